//! The one registry of kernels: every WGSL file in `shaders/`, loaded with
//! `include_str!`, every entry point with its specialization, and the cache
//! that builds each pipeline once per context.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Result;
use crate::gpu::context::GpuContext;

/// Prepended to every kernel module: shared helpers and activation functions.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// Every kernel file in `shaders/` (besides the prelude), by name.
pub const SHADER_FILES: &[(&str, &str)] = &[
    ("matmul", include_str!("../../shaders/matmul.wgsl")),
    ("matmul_f16", include_str!("../../shaders/matmul_f16.wgsl")),
    // The subgroup kernel builds on matmul.wgsl's bindings and helpers.
    (
        "matmul_subgroup",
        concat!(
            include_str!("../../shaders/matmul_subgroup.wgsl"),
            "\n",
            include_str!("../../shaders/matmul.wgsl")
        ),
    ),
    // So does the vec4-fed 128x128 tiled kernel.
    (
        "matmul_wide",
        concat!(
            include_str!("../../shaders/matmul_wide.wgsl"),
            "\n",
            include_str!("../../shaders/matmul.wgsl")
        ),
    ),
    (
        "elementwise",
        include_str!("../../shaders/elementwise.wgsl"),
    ),
    ("softmax", include_str!("../../shaders/softmax.wgsl")),
    ("reduce", include_str!("../../shaders/reduce.wgsl")),
    ("loss", include_str!("../../shaders/loss.wgsl")),
    ("penalty", include_str!("../../shaders/penalty.wgsl")),
    ("optim", include_str!("../../shaders/optim.wgsl")),
    ("rng", include_str!("../../shaders/rng.wgsl")),
    ("gather", include_str!("../../shaders/gather.wgsl")),
    ("shuffle", include_str!("../../shaders/shuffle.wgsl")),
    ("vae", include_str!("../../shaders/vae.wgsl")),
    (
        "contractive",
        include_str!("../../shaders/contractive.wgsl"),
    ),
];

/// The full WGSL text of a module: the prelude, then the file. A file's
/// `enable` directives (`enable f16;`) move to the top, where WGSL wants them.
pub fn module_source(file: &str) -> Option<String> {
    let (_, src) = SHADER_FILES.iter().find(|(name, _)| *name == file)?;
    let (enables, body): (Vec<&str>, Vec<&str>) = src
        .lines()
        .partition(|l| l.trim_start().starts_with("enable "));
    let mut out = String::new();
    for e in enables {
        out.push_str(e);
        out.push('\n');
    }
    out.push_str(COMMON);
    out.push('\n');
    out.push_str(&body.join("\n"));
    out.push('\n');
    Some(out)
}

/// Length of each workgroup tile array in shaders/matmul.wgsl (`tile_a`,
/// `tile_b`), room for the largest [`Tile`].
pub const MATMUL_TILE_WORDS: u32 = 1088;

/// Bytes of workgroup memory of the vec4-fed kernel (shaders/matmul_wide.wgsl:
/// `wide_a` and `wide_b`, 256 vec4<f32> each).
pub const MATMUL_WIDE_BYTES: u32 = 2 * 256 * 16;

/// The tile shape of the tiled matmul (see shaders/matmul.wgsl and
/// shaders/matmul_wide.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tile {
    /// 64x64 tiles: 16x16 invocations with 4x4 blocks, K slices of 16.
    T64,
    /// 128x128 tiles: 16x16 invocations with 8x8 blocks, K slices of 8.
    T128,
    /// 128x128 tiles as T128, with each 8x8 block held in vec4 registers and
    /// fed by vec4 reads of workgroup memory, the next slice prefetched into
    /// registers (`main_wide` in shaders/matmul_wide.wgsl).
    T128V,
    /// 64x64 tiles fed like T128V: 8x8 invocations with 8x8 blocks.
    T64V,
    /// 16x16 tiles, one output per invocation, K slices of 16: for small
    /// outputs on GPUs, where larger tiles leave most of the GPU idle while
    /// a few workgroups walk a long K.
    T16,
}

impl Tile {
    /// (WG_X, WG_Y, RM, RN, TK).
    pub fn params(self) -> (u32, u32, u32, u32, u32) {
        match self {
            Tile::T64 => (16, 16, 4, 4, 16),
            Tile::T128 | Tile::T128V => (16, 16, 8, 8, 8),
            Tile::T64V => (8, 8, 8, 8, 8),
            Tile::T16 => (16, 16, 1, 1, 16),
        }
    }

    /// Whether the tile is fed through vec4 registers (`main_wide`).
    pub fn is_wide(self) -> bool {
        matches!(self, Tile::T128V | Tile::T64V)
    }

    /// Rows and columns of C per workgroup.
    pub fn size(self) -> (u32, u32) {
        let (wx, wy, rm, rn, _) = self.params();
        (wy * rm, wx * rn)
    }

    /// Invocations per workgroup and bytes of workgroup memory it needs:
    /// `main` declares two f32 tiles of [`MATMUL_TILE_WORDS`] whatever the
    /// shape; `main_wide` its own two arrays ([`MATMUL_WIDE_BYTES`]).
    pub fn needs(self) -> (u32, u32) {
        let (wx, wy, _, _, _) = self.params();
        let bytes = if self.is_wide() {
            MATMUL_WIDE_BYTES
        } else {
            2 * 4 * MATMUL_TILE_WORDS
        };
        (wx * wy, bytes)
    }

    /// Words of one staged slice, TK x (TM + 1) or TK x (TN + 1).
    pub fn slice_words(self) -> u32 {
        let (_, _, _, _, tk) = self.params();
        let (tm, tn) = self.size();
        tk * (tm.max(tn) + 1)
    }
}

/// Columns of C per workgroup of a direct matmul kernel for an output `n`
/// wide: `main_direct` covers 64 (32 for outputs at most 32 wide, where half
/// of it would idle); the subgroup kernel 32 whatever the width: its 8
/// invocations are one SIMD group on lavapipe, which costs no more per
/// column than wider workgroups and wastes less past the last column
/// (BENCHMARKS.md).
pub fn direct_columns(subgroups: bool, n: usize) -> u32 {
    match (subgroups, n) {
        (true, _) | (false, 0..=32) => 32,
        (false, _) => 64,
    }
}

/// Invocations per workgroup (the shaders' `DW`) of a direct matmul kernel
/// covering `cols` columns: `main_direct` takes one column per invocation,
/// the subgroup kernel four.
pub fn direct_workgroup(subgroups: bool, cols: u32) -> u32 {
    if subgroups {
        cols / 4
    } else {
        cols
    }
}

/// The override constants both direct matmul kernels take: the layout, the
/// operand with a fused prologue, and `DW` invocations per workgroup.
fn direct_constants(
    trans_a: bool,
    trans_b: bool,
    pro: Option<Operand>,
    width: u32,
) -> Vec<(&'static str, f64)> {
    let flag = |b: bool| f64::from(u8::from(b));
    vec![
        ("TRANS_A", flag(trans_a)),
        ("TRANS_B", flag(trans_b)),
        ("PRO_A", flag(pro == Some(Operand::A))),
        ("PRO_B", flag(pro == Some(Operand::B))),
        ("DW", f64::from(width)),
    ]
}

/// Invocations per row of the per-row loss kernels (loss.wgsl's `ROW_WG`):
/// 64 on GPUs, 8 (one SIMD group) on CPU adapters, where every level of the
/// row's tree sum is a barrier that suspends each SIMD group of the
/// workgroup (BENCHMARKS.md: the fused loss pass in half the time).
pub const ROW_LANES: [u32; 2] = [8, 64];

/// The ids of the activations a matmul epilogue applies (all but softmax),
/// each a specialization of the subgroup matmul (see
/// [`Kernel::MatmulDirectSubgroup`]).
pub const EPILOGUE_ACTS: [u32; 6] = [0, 1, 2, 3, 4, 5];

/// The optimizers' ids in optim.wgsl (SGD, momentum, Adam, AdamW, RMSprop),
/// each a specialization of the update (see [`Kernel::OptimUpdate`]).
pub const OPTIMIZER_KINDS: [u32; 5] = [0, 1, 2, 3, 4];

/// An operand of a matmul.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    A,
    B,
}

/// A kernel: one entry point of one file, with its override constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The tiled matmul; `pro` names the operand scaled by the fused
    /// activation gradient, if any (see shaders/matmul.wgsl).
    Matmul {
        trans_a: bool,
        trans_b: bool,
        pro: Option<Operand>,
        tile: Tile,
        /// vec4 loads from global memory (contiguous dimensions multiples of 4).
        vec4: bool,
    },
    /// The same product without workgroup memory, for CPU adapters;
    /// `cols`: columns per workgroup (see [`direct_columns`]).
    MatmulDirect {
        trans_a: bool,
        trans_b: bool,
        pro: Option<Operand>,
        cols: u32,
    },
    /// The direct kernel sharing A through subgroup shuffles; `act`: the
    /// epilogue's activation (its id), and `accum`: whether it may add
    /// beta * C (beta != 0), both fixed when the pipeline is built (the
    /// shader's `ACT` and `ACCUM`): CPU adapters, which run this kernel,
    /// execute every case of a branch on a uniform value, masked, so a
    /// runtime choice would cost them every activation's work, and a read of
    /// C, on every output.
    MatmulDirectSubgroup {
        trans_a: bool,
        trans_b: bool,
        pro: Option<Operand>,
        cols: u32,
        act: u32,
        accum: bool,
    },
    /// Mixed precision: f16 operands, f32 products and sums, f32 or f16 output.
    MatmulF16 {
        trans_a: bool,
        trans_b: bool,
        out_f16: bool,
    },
    ToF16,
    ToF32,
    ActForward,
    ActBackward,
    Axpby,
    Mul,
    Fill,
    SoftmaxForward,
    SoftmaxBackward,
    ColSum,
    ReducePartial,
    ReduceFinal,
    ReduceSingle,
    LossGrad,
    /// The per-row losses; `lanes`: invocations per row (the shader's
    /// `ROW_WG`, see [`ROW_LANES`]); `loss`: MSE (0) or BCE on logits (1),
    /// fixed when the pipeline is built (`LOSS`), for the reason given at
    /// [`Kernel::MatmulDirectSubgroup`].
    RowLoss {
        lanes: u32,
        loss: u32,
    },
    LossFused {
        lanes: u32,
        loss: u32,
    },
    LossFused4 {
        lanes: u32,
        loss: u32,
    },
    L1Grad,
    KlGrad,
    KlLoss,
    OptimTick,
    /// The optimizer update; `kind`: the optimizer (the shader's `KIND`),
    /// fixed when the pipeline is built, for the reason given at
    /// [`Kernel::MatmulDirectSubgroup`].
    OptimUpdate {
        kind: u32,
    },
    OptimUpdate4 {
        kind: u32,
    },
    FillUniform,
    FillNormal,
    DropoutMask,
    NoiseGaussian,
    NoiseMask,
    NoiseSaltPepper,
    GatherRows,
    GatherRows4,
    Permute,
    Reparam,
    VaeBackward,
    VaeKlRows,
    RowSq,
    JacFp2,
    JacDz,
    JacWgrad,
}

impl Kernel {
    /// Every kernel, every specialization.
    pub fn all() -> Vec<Kernel> {
        let mut all = Vec::new();
        for trans_a in [false, true] {
            for trans_b in [false, true] {
                for pro in [None, Some(Operand::A), Some(Operand::B)] {
                    for tile in [Tile::T64, Tile::T128, Tile::T128V, Tile::T64V, Tile::T16] {
                        for vec4 in [false, true] {
                            all.push(Kernel::Matmul {
                                trans_a,
                                trans_b,
                                pro,
                                tile,
                                vec4,
                            });
                        }
                    }
                    for cols in [32, 64] {
                        all.push(Kernel::MatmulDirect {
                            trans_a,
                            trans_b,
                            pro,
                            cols,
                        });
                    }
                    for act in EPILOGUE_ACTS {
                        for accum in [false, true] {
                            all.push(Kernel::MatmulDirectSubgroup {
                                trans_a,
                                trans_b,
                                pro,
                                cols: direct_columns(true, 0),
                                act,
                                accum,
                            });
                        }
                    }
                }
                for out_f16 in [false, true] {
                    all.push(Kernel::MatmulF16 {
                        trans_a,
                        trans_b,
                        out_f16,
                    });
                }
            }
        }
        all.extend_from_slice(&[Kernel::ToF16, Kernel::ToF32]);
        for kind in OPTIMIZER_KINDS {
            all.extend_from_slice(&[Kernel::OptimUpdate { kind }, Kernel::OptimUpdate4 { kind }]);
        }
        for lanes in ROW_LANES {
            for loss in [0, 1] {
                all.extend_from_slice(&[
                    Kernel::RowLoss { lanes, loss },
                    Kernel::LossFused { lanes, loss },
                    Kernel::LossFused4 { lanes, loss },
                ]);
            }
        }
        all.extend_from_slice(&[
            Kernel::ActForward,
            Kernel::ActBackward,
            Kernel::Axpby,
            Kernel::Mul,
            Kernel::Fill,
            Kernel::SoftmaxForward,
            Kernel::SoftmaxBackward,
            Kernel::ColSum,
            Kernel::ReducePartial,
            Kernel::ReduceFinal,
            Kernel::ReduceSingle,
            Kernel::LossGrad,
            Kernel::L1Grad,
            Kernel::KlGrad,
            Kernel::KlLoss,
            Kernel::OptimTick,
            Kernel::FillUniform,
            Kernel::FillNormal,
            Kernel::DropoutMask,
            Kernel::NoiseGaussian,
            Kernel::NoiseMask,
            Kernel::NoiseSaltPepper,
            Kernel::GatherRows,
            Kernel::GatherRows4,
            Kernel::Permute,
            Kernel::Reparam,
            Kernel::VaeBackward,
            Kernel::VaeKlRows,
            Kernel::RowSq,
            Kernel::JacFp2,
            Kernel::JacDz,
            Kernel::JacWgrad,
        ]);
        all
    }

    pub fn file(self) -> &'static str {
        match self {
            Kernel::Matmul { tile, .. } if tile.is_wide() => "matmul_wide",
            Kernel::Matmul { .. } | Kernel::MatmulDirect { .. } => "matmul",
            Kernel::MatmulF16 { .. } | Kernel::ToF16 | Kernel::ToF32 => "matmul_f16",
            Kernel::MatmulDirectSubgroup { .. } => "matmul_subgroup",
            Kernel::ActForward
            | Kernel::ActBackward
            | Kernel::Axpby
            | Kernel::Mul
            | Kernel::Fill => "elementwise",
            Kernel::SoftmaxForward | Kernel::SoftmaxBackward => "softmax",
            Kernel::ColSum | Kernel::ReducePartial | Kernel::ReduceFinal | Kernel::ReduceSingle => {
                "reduce"
            }
            Kernel::LossGrad
            | Kernel::RowLoss { .. }
            | Kernel::LossFused { .. }
            | Kernel::LossFused4 { .. } => "loss",
            Kernel::L1Grad | Kernel::KlGrad | Kernel::KlLoss => "penalty",
            Kernel::OptimTick | Kernel::OptimUpdate { .. } | Kernel::OptimUpdate4 { .. } => "optim",
            Kernel::FillUniform
            | Kernel::FillNormal
            | Kernel::DropoutMask
            | Kernel::NoiseGaussian
            | Kernel::NoiseMask
            | Kernel::NoiseSaltPepper => "rng",
            Kernel::GatherRows | Kernel::GatherRows4 => "gather",
            Kernel::Permute => "shuffle",
            Kernel::Reparam | Kernel::VaeBackward | Kernel::VaeKlRows => "vae",
            Kernel::RowSq | Kernel::JacFp2 | Kernel::JacDz | Kernel::JacWgrad => "contractive",
        }
    }

    pub fn entry(self) -> &'static str {
        match self {
            Kernel::Matmul { tile, .. } if tile.is_wide() => "main_wide",
            Kernel::Matmul { .. } => "main",
            Kernel::MatmulDirect { .. } => "main_direct",
            Kernel::MatmulF16 { .. } => "main",
            Kernel::MatmulDirectSubgroup { .. } => "main_direct_subgroup",
            Kernel::ToF16 => "to_f16",
            Kernel::ToF32 => "to_f32",
            Kernel::ActForward => "act_forward",
            Kernel::ActBackward => "act_backward",
            Kernel::Axpby => "axpby",
            Kernel::Mul => "mul",
            Kernel::Fill => "fill",
            Kernel::SoftmaxForward => "softmax_forward",
            Kernel::SoftmaxBackward => "softmax_backward",
            Kernel::ColSum => "col_sum",
            Kernel::ReducePartial => "reduce_partial",
            Kernel::ReduceFinal => "reduce_final",
            Kernel::ReduceSingle => "reduce_single",
            Kernel::LossGrad => "loss_grad",
            Kernel::RowLoss { .. } => "row_loss",
            Kernel::LossFused { .. } => "loss_fused",
            Kernel::LossFused4 { .. } => "loss_fused4",
            Kernel::L1Grad => "l1_grad",
            Kernel::KlGrad => "kl_grad",
            Kernel::KlLoss => "kl_loss",
            Kernel::OptimTick => "tick",
            Kernel::OptimUpdate { .. } => "update",
            Kernel::OptimUpdate4 { .. } => "update4",
            Kernel::FillUniform => "fill_uniform",
            Kernel::FillNormal => "fill_normal",
            Kernel::DropoutMask => "dropout_mask",
            Kernel::NoiseGaussian => "noise_gaussian",
            Kernel::NoiseMask => "noise_mask",
            Kernel::NoiseSaltPepper => "noise_salt_pepper",
            Kernel::GatherRows => "gather_rows",
            Kernel::GatherRows4 => "gather_rows4",
            Kernel::Permute => "permute",
            Kernel::Reparam => "reparam",
            Kernel::VaeBackward => "vae_backward",
            Kernel::VaeKlRows => "kl_rows",
            Kernel::RowSq => "row_sq",
            Kernel::JacFp2 => "jac_fp2",
            Kernel::JacDz => "jac_dz",
            Kernel::JacWgrad => "jac_wgrad",
        }
    }

    /// Whether the kernel needs the adapter's shader-f16 feature.
    pub fn needs_f16(self) -> bool {
        self.file() == "matmul_f16"
    }

    /// Whether the kernel needs subgroups of at least 8 lanes.
    pub fn needs_subgroups(self) -> bool {
        self.file() == "matmul_subgroup"
    }

    /// Pipeline-overridable constants for this specialization.
    pub fn constants(self) -> Vec<(&'static str, f64)> {
        match self {
            Kernel::Matmul {
                trans_a,
                trans_b,
                pro,
                tile,
                vec4,
            } => {
                let flag = |b: bool| f64::from(u8::from(b));
                let (wx, wy, rm, rn, tk) = tile.params();
                let mut c = vec![
                    ("TRANS_A", flag(trans_a)),
                    ("TRANS_B", flag(trans_b)),
                    ("PRO_A", flag(pro == Some(Operand::A))),
                    ("PRO_B", flag(pro == Some(Operand::B))),
                    ("VEC4", flag(vec4)),
                ];
                if tile.is_wide() {
                    // main_wide: a WS x WS workgroup of 8x8 blocks, K slices of 8.
                    c.push(("WS", f64::from(wx)));
                } else {
                    c.extend([
                        ("WG_X", f64::from(wx)),
                        ("WG_Y", f64::from(wy)),
                        ("RM", f64::from(rm)),
                        ("RN", f64::from(rn)),
                        ("TK", f64::from(tk)),
                    ]);
                }
                c
            }
            Kernel::MatmulDirect {
                trans_a,
                trans_b,
                pro,
                cols,
            } => direct_constants(trans_a, trans_b, pro, direct_workgroup(false, cols)),
            Kernel::MatmulDirectSubgroup {
                trans_a,
                trans_b,
                pro,
                cols,
                act,
                accum,
            } => {
                let mut c = direct_constants(trans_a, trans_b, pro, direct_workgroup(true, cols));
                c.push(("ACT", f64::from(act)));
                c.push(("ACCUM", f64::from(u8::from(accum))));
                c
            }
            Kernel::MatmulF16 {
                trans_a,
                trans_b,
                out_f16,
            } => {
                let flag = |b: bool| f64::from(u8::from(b));
                vec![
                    ("TRANS_A", flag(trans_a)),
                    ("TRANS_B", flag(trans_b)),
                    ("OUT_F16", flag(out_f16)),
                ]
            }
            Kernel::OptimUpdate { kind } | Kernel::OptimUpdate4 { kind } => {
                vec![("KIND", f64::from(kind))]
            }
            Kernel::RowLoss { lanes, loss }
            | Kernel::LossFused { lanes, loss }
            | Kernel::LossFused4 { lanes, loss } => {
                vec![("ROW_WG", f64::from(lanes)), ("LOSS", f64::from(loss))]
            }
            _ => Vec::new(),
        }
    }
}

/// Shader modules and pipelines, built on first use and kept for the life of
/// the context.
#[derive(Default)]
pub struct KernelCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Kernel, wgpu::ComputePipeline>>,
    dummy: Mutex<Option<crate::gpu::GpuTensor>>,
}

impl GpuContext {
    /// The pipeline of `kernel`, built once and cached.
    pub fn pipeline(&self, kernel: Kernel) -> Result<wgpu::ComputePipeline> {
        if let Some(p) = self.kernels.pipelines.lock().unwrap().get(&kernel) {
            return Ok(p.clone());
        }
        if kernel.needs_f16() {
            self.require_f16(kernel.entry())?;
        }
        if kernel.needs_subgroups() && !self.has_subgroups() {
            return Err(crate::Error::InvalidArgument(format!(
                "{}: adapter '{}' has no subgroups of at least 8 lanes; use the direct kernel",
                kernel.entry(),
                self.adapter_name()
            )));
        }
        let module = self.module(kernel.file())?;
        let constants = kernel.constants();
        let label = format!("{}::{}", kernel.file(), kernel.entry());
        let pipeline = self.scoped(&format!("building pipeline {label}"), || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry()),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        // Every kernel writes its workgroup memory before reading it.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        self.kernels
            .pipelines
            .lock()
            .unwrap()
            .insert(kernel, pipeline.clone());
        Ok(pipeline)
    }

    fn module(&self, file: &'static str) -> Result<wgpu::ShaderModule> {
        if let Some(m) = self.kernels.modules.lock().unwrap().get(file) {
            return Ok(m.clone());
        }
        let source = module_source(file).expect("kernel files are listed in SHADER_FILES");
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(file),
            source: wgpu::ShaderSource::Wgsl(Cow::Owned(source)),
        };
        // Bounds checks and the guards on integer division stay as wgpu sets
        // them; only the loop guard goes (unless `WGAE_LOOP_BOUNDING=1`).
        let checks = wgpu::ShaderRuntimeChecks {
            force_loop_bounding: self.loop_bounding(),
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        let module = self.scoped(&format!("compiling shaders/{file}.wgsl"), || {
            // SAFETY: the one promise this drops is that no loop runs
            // forever, and no loop in shaders/ does:
            // - every `for` counts an index by a fixed nonzero step up to a
            //   bound read from the parameters (a matrix dimension, a row
            //   length, a buffer length; all far below u32::MAX, so the
            //   index cannot wrap), or halves a nonzero constant down to 0;
            // - the one `while` (shuffle.wgsl's `permute`) walks the cycle
            //   of a bijection (a Feistel network) from a value below `n`,
            //   which comes back below `n` within the cycle.
            // Workgroup barriers sit only in uniform control flow, so every
            // invocation reaches them. New loops must keep to these rules.
            unsafe { self.device.create_shader_module_trusted(desc, checks) }
        })?;
        self.kernels
            .modules
            .lock()
            .unwrap()
            .insert(file, module.clone());
        Ok(module)
    }

    /// A small zeroed tensor bound where a kernel's optional input is absent.
    pub(crate) fn dummy(&self) -> Result<crate::gpu::GpuTensor> {
        let mut slot = self.kernels.dummy.lock().unwrap();
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = self.zeros("wgae unused input", 4)?;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// Builds every pipeline now, so that a broken kernel fails at start-up
    /// rather than in the middle of training.
    pub fn build_all_pipelines(&self) -> Result<()> {
        let f16 = self.features().contains(wgpu::Features::SHADER_F16);
        for k in Kernel::all() {
            if (k.needs_f16() && !f16) || (k.needs_subgroups() && !self.has_subgroups()) {
                continue;
            }
            self.pipeline(k)?;
        }
        Ok(())
    }
}
