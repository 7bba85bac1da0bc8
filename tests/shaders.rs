//! Portability without the hardware: every kernel module is parsed and
//! validated by naga with no optional capabilities (plain WebGPU; the f16
//! kernels with shader-f16 only, the subgroup kernel with subgroups only),
//! then translated to SPIR-V (Vulkan), MSL (Metal), HLSL (DX12) and GLSL (GL)
//! with each specialization's override constants applied. A shader that would not compile for one of those
//! backends fails here, on a machine with no GPU. The f16 kernels skip GLSL:
//! wgpu's GL backend has no shader-f16, so they never run there.

use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgae::gpu::Kernel;
use wgae::kernels::{self, module_source};

fn parse_and_validate(file: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let src = module_source(file).unwrap();
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{file}.wgsl does not parse:\n{}", e.emit_to_string(&src)));
    let kernels: Vec<Kernel> = kernels::all()
        .into_iter()
        .filter(|k| k.file() == file)
        .collect();
    let mut caps = Capabilities::empty();
    if kernels.iter().any(|k| k.needs_f16()) {
        caps |= Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32;
    }
    if kernels.iter().any(|k| k.needs_subgroups()) {
        caps |= Capabilities::SUBGROUP;
    }
    let info = Validator::new(ValidationFlags::all(), caps)
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{file}.wgsl does not validate:\n{}", e.emit_to_string(&src)));
    (module, info)
}

#[test]
fn every_shader_file_is_registered_and_documented() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".wgsl").map(str::to_string)
        })
        .filter(|n| n != "common")
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = kernels::shaders()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    registered.sort();
    assert_eq!(
        on_disk, registered,
        "shaders/ and the kernel families (kernels::FAMILIES) disagree"
    );
    for shader in kernels::shaders() {
        let (name, src) = (shader.name, shader.body);
        // Each file opens with its header: what it computes, its bindings,
        // the workgroup size and the dispatch.
        let first = src.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!("// {name}.wgsl:")),
            "{name}.wgsl lacks its header line"
        );
        assert!(
            src.contains("Bindings") || src.contains("binding"),
            "{name}.wgsl header names no bindings"
        );
        assert!(
            src.to_ascii_lowercase().contains("dispatch"),
            "{name}.wgsl header gives no dispatch"
        );
    }
    // Every registered file has at least one kernel.
    for shader in kernels::shaders() {
        let name = shader.name;
        assert!(
            kernels::all().iter().any(|k| k.file() == name),
            "{name}.wgsl has no Kernel"
        );
    }
}

#[test]
fn every_kernel_translates_to_spirv_msl_hlsl_and_glsl() {
    for kernel in kernels::all() {
        let (module, info) = parse_and_validate(kernel.file());
        let mut constants = naga::back::PipelineConstants::default();
        for (name, value) in kernel.constants() {
            constants.insert(name.to_string(), value);
        }
        let entry = kernel.entry();
        let stage = naga::ShaderStage::Compute;
        let (module, info) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((stage, entry)),
            &constants,
        )
        .unwrap_or_else(|e| panic!("{kernel:?}: overrides: {e}"));
        assert!(
            module.entry_points.iter().any(|ep| ep.name == entry),
            "{kernel:?}: no entry point '{entry}'"
        );

        // Vulkan
        let spv_opts = spv::Options::default();
        let spv_pipe = spv::PipelineOptions {
            shader_stage: stage,
            entry_point: entry.to_string(),
        };
        spv::write_vec(&module, &info, &spv_opts, Some(&spv_pipe))
            .unwrap_or_else(|e| panic!("{kernel:?}: SPIR-V: {e}"));

        // Metal
        let msl_opts = msl::Options {
            fake_missing_bindings: true,
            ..Default::default()
        };
        let msl_pipe = msl::PipelineOptions {
            entry_point: Some((stage, entry.to_string())),
            ..Default::default()
        };
        msl::write_string(&module, &info, &msl_opts, &msl_pipe)
            .unwrap_or_else(|e| panic!("{kernel:?}: MSL: {e}"));

        // DX12
        let hlsl_opts = hlsl::Options {
            fake_missing_bindings: true,
            // f16 needs shader model 6.2 (DXC); the rest stays at the default.
            shader_model: if kernel.needs_f16() {
                hlsl::ShaderModel::V6_2
            } else {
                hlsl::Options::default().shader_model
            },
            ..Default::default()
        };
        let hlsl_pipe = hlsl::PipelineOptions {
            entry_point: Some((stage, entry.to_string())),
        };
        let mut hlsl_out = String::new();
        hlsl::Writer::new(&mut hlsl_out, &hlsl_opts, &hlsl_pipe)
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{kernel:?}: HLSL: {e}"));

        // GL (desktop 4.3, the first with compute shaders)
        if kernel.needs_f16() {
            continue;
        }
        let glsl_opts = glsl::Options {
            version: glsl::Version::Desktop(430),
            ..Default::default()
        };
        let glsl_pipe = glsl::PipelineOptions {
            shader_stage: stage,
            entry_point: entry.to_string(),
            multiview: None,
        };
        let mut glsl_out = String::new();
        glsl::Writer::new(
            &mut glsl_out,
            &module,
            &info,
            &glsl_opts,
            &glsl_pipe,
            naga::proc::BoundsCheckPolicies::default(),
        )
        .and_then(|mut w| w.write())
        .unwrap_or_else(|e| panic!("{kernel:?}: GLSL: {e}"));
        assert!(
            glsl_out.contains("void main"),
            "{kernel:?}: GLSL has no main"
        );
    }
}

/// Each family's named bindings are the shader's: every `@binding(N) var
/// name` of its files (but the uniform at 0) is in the family's list under
/// the same number, and every listed binding is in one of its files.
#[test]
fn named_bindings_match_the_shaders() {
    for family in kernels::FAMILIES {
        let mut declared: Vec<(String, u32)> = Vec::new();
        for shader in family.shaders {
            for line in shader.body.lines() {
                let Some(rest) = line.trim().strip_prefix("@group(0) @binding(") else {
                    continue;
                };
                let (n, decl) = rest.split_once(')').unwrap();
                let n: u32 = n.parse().unwrap();
                let name = decl
                    .split('>')
                    .nth(1)
                    .and_then(|t| t.split(':').next())
                    .map(str::trim)
                    .unwrap_or_else(|| panic!("{}: cannot read '{line}'", shader.name));
                if n > 0 && !declared.iter().any(|(d, m)| d == name && *m == n) {
                    declared.push((name.to_string(), n));
                }
            }
        }
        let names = family.shaders[0].name;
        let mut listed: Vec<(String, u32)> = family
            .bindings
            .iter()
            .map(|(n, i)| (n.to_string(), *i))
            .collect();
        declared.sort();
        listed.sort();
        assert_eq!(
            declared, listed,
            "{names}: named bindings differ from the shader's"
        );
    }
}

/// The tiled matmul's workgroup arrays are as long as the host assumes when
/// it checks the adapter's limits, and every tile shape fits in them.
#[test]
fn matmul_tiles_fit_the_declared_workgroup_arrays() {
    use wgae::op::Tile;
    use wgae::op::MATMUL_TILE_WORDS;
    let src = module_source("matmul").unwrap();
    let decl = format!("array<f32, {MATMUL_TILE_WORDS}>");
    assert_eq!(
        src.matches(&decl).count(),
        2,
        "tile_a and tile_b are not {decl}"
    );
    for tile in [Tile::T16, Tile::T64, Tile::T128] {
        assert!(tile.slice_words() <= MATMUL_TILE_WORDS, "{tile:?}");
    }
}

/// The vec4-fed kernel's two workgroup arrays are what the host counts when
/// it checks the adapter's limits.
#[test]
fn matmul_wide_arrays_are_what_the_host_counts() {
    use wgae::op::Tile;
    use wgae::op::MATMUL_WIDE_BYTES;
    let src = module_source("matmul_wide").unwrap();
    assert_eq!(src.matches("array<vec4<f32>, 256>").count(), 2);
    assert_eq!(MATMUL_WIDE_BYTES, 2 * 256 * 16);
    assert_eq!(Tile::T128V.needs(), (256, MATMUL_WIDE_BYTES));
    assert_eq!(Tile::T64V.needs(), (64, MATMUL_WIDE_BYTES));
}

#[test]
fn a_broken_shader_is_caught() {
    // The harness itself can fail: an undefined name must not validate.
    let bad = "@compute @workgroup_size(1) fn main() { let x = undefined_thing; }";
    assert!(naga::front::wgsl::parse_str(bad).is_err());
}
