//! The kernels: one module per shader file in `shaders/` (the matmul family
//! also holds the two files built on matmul.wgsl's bindings). Each module
//! owns its WGSL through `include_str!`, its parameter structs, its bindings
//! by name, its entry points with their specializations, and the builders
//! that check shapes and turn tensors into a [`Step`]. Every builder does the
//! same four things: check the shapes, write the parameters into a uniform,
//! bind the tensors, and compute the dispatch size.
//!
//! The registry below is assembled from the families: adding a kernel family
//! is its module plus one line in [`FAMILIES`].
//!
//! The builders are re-exported here, so `use wgae::kernels as ops;` reads
//! as before: `ops::matmul(..)`, `ops::row_loss(..)`.

pub mod common;
pub mod contractive;
pub mod conv;
pub mod elementwise;
pub mod gather;
pub mod loss;
pub mod masked;
pub mod matmul;
pub mod matmul_f16;
pub mod norm;
pub mod optim;
pub mod penalty;
pub mod pool;
pub mod recurrent;
pub mod reduce;
pub mod rng;
pub mod shape;
pub mod shuffle;
pub mod softmax;
pub mod sparse;
pub mod swap_axes;
pub mod vae;

use crate::error::Result;
use crate::gpu::{GpuContext, Kernel, Shader};

pub use crate::gpu::Step;
pub use crate::op::{Activation, Loss, Noise, OptimConfig, OptimizerKind, Schedule};
pub use common::COMMON;
pub use contractive::{
    contractive_dz, contractive_fp2, contractive_row_sq, contractive_supports, contractive_wgrad,
};
pub use conv::ConvGeom;
pub use elementwise::{act_backward, act_forward, axpby, fill, l2_grad, mul};
pub use gather::{gather_chunks, gather_rows, gather_u8, gather_windows, u8_words, MAX_CHUNKS};
pub use loss::{loss_fused, loss_grad, row_loss};
pub use masked::{masked_loss_fused, masked_row_loss, unmask, MISSING};
pub use matmul::{
    matmul, matmul_prologue, matmul_with, MatmulKernel, MatmulSpec, Operand, Prologue,
};
pub use matmul_f16::{f16_words, matmul_f16, to_f16, to_f32, MatmulOut};
pub use norm::{NormGeom, StatsAt};
pub use optim::{optim_tick, optim_update, LR_FACTOR_WORD, OPT_STATE_WORDS};
pub use penalty::{kl_grad, kl_loss, l1_grad};
pub use pool::PoolGeom;
pub use recurrent::{rec_step, rec_step_back, BackTensors, RecDims, StepTensors};
pub use reduce::{col_sum, reduce, reduce_to, ReduceMode, REDUCE_PARTIALS};
pub use rng::{noise, random, RandomFill, RngSpec};
pub use shape::fold;
pub use shuffle::{permute, shuffle_half_bits};
pub use sparse::{gather_sparse, SparseTensors};
pub use swap_axes::swap_axes;
pub use vae::{vae_backward, vae_kl_rows, vae_reparam};

/// A kernel family: its shader files, its kernels with every
/// specialization, and its bindings by WGSL name.
pub struct Family {
    pub shaders: &'static [&'static Shader],
    pub kernels: fn() -> Vec<Kernel>,
    pub bindings: &'static [(&'static str, u32)],
}

/// Every kernel family, one line each.
pub static FAMILIES: &[Family] = &[
    Family {
        shaders: &[&matmul::SHADER, &matmul::SUBGROUP, &matmul::WIDE],
        kernels: matmul::kernels,
        bindings: matmul::BINDINGS,
    },
    Family {
        shaders: &[&matmul_f16::SHADER],
        kernels: matmul_f16::kernels,
        bindings: matmul_f16::BINDINGS,
    },
    Family {
        shaders: &[&elementwise::SHADER],
        kernels: elementwise::kernels,
        bindings: elementwise::BINDINGS,
    },
    Family {
        shaders: &[&softmax::SHADER],
        kernels: softmax::kernels,
        bindings: softmax::BINDINGS,
    },
    Family {
        shaders: &[&masked::SHADER],
        kernels: masked::kernels,
        bindings: masked::BINDINGS,
    },
    Family {
        shaders: &[&sparse::SHADER],
        kernels: sparse::kernels,
        bindings: sparse::BINDINGS,
    },
    Family {
        shaders: &[&swap_axes::SHADER],
        kernels: swap_axes::kernels,
        bindings: swap_axes::BINDINGS,
    },
    Family {
        shaders: &[&reduce::SHADER],
        kernels: reduce::kernels,
        bindings: reduce::BINDINGS,
    },
    Family {
        shaders: &[&loss::SHADER],
        kernels: loss::kernels,
        bindings: loss::BINDINGS,
    },
    Family {
        shaders: &[&penalty::SHADER],
        kernels: penalty::kernels,
        bindings: penalty::BINDINGS,
    },
    Family {
        shaders: &[&optim::SHADER],
        kernels: optim::kernels,
        bindings: optim::BINDINGS,
    },
    Family {
        shaders: &[&rng::SHADER],
        kernels: rng::kernels,
        bindings: rng::BINDINGS,
    },
    Family {
        shaders: &[&gather::SHADER],
        kernels: gather::kernels,
        bindings: gather::BINDINGS,
    },
    Family {
        shaders: &[&shuffle::SHADER],
        kernels: shuffle::kernels,
        bindings: shuffle::BINDINGS,
    },
    Family {
        shaders: &[&vae::SHADER],
        kernels: vae::kernels,
        bindings: vae::BINDINGS,
    },
    Family {
        shaders: &[&contractive::SHADER],
        kernels: contractive::kernels,
        bindings: contractive::BINDINGS,
    },
    Family {
        shaders: &[&conv::SHADER],
        kernels: conv::kernels,
        bindings: conv::BINDINGS,
    },
    Family {
        shaders: &[&pool::SHADER],
        kernels: pool::kernels,
        bindings: pool::BINDINGS,
    },
    Family {
        shaders: &[&norm::SHADER],
        kernels: norm::kernels,
        bindings: norm::BINDINGS,
    },
    Family {
        shaders: &[&recurrent::SHADER],
        kernels: recurrent::kernels,
        bindings: recurrent::BINDINGS,
    },
];

/// Every shader module, from the families.
pub fn shaders() -> Vec<&'static Shader> {
    FAMILIES
        .iter()
        .flat_map(|f| f.shaders.iter().copied())
        .collect()
}

/// The shader module named `name` (its file name without `.wgsl`).
pub fn shader(name: &str) -> Option<&'static Shader> {
    shaders().into_iter().find(|s| s.name == name)
}

/// The full WGSL text of a module: the prelude, then the file.
pub fn module_source(name: &str) -> Option<String> {
    shader(name).map(Shader::source)
}

/// Every kernel, every specialization, from the families.
pub fn all() -> Vec<Kernel> {
    FAMILIES.iter().flat_map(|f| (f.kernels)()).collect()
}

/// Builds every pipeline the adapter can run now, so that a broken kernel
/// fails at start-up rather than in the middle of training.
pub fn build_all_pipelines(ctx: &GpuContext) -> Result<()> {
    for k in all() {
        if (k.needs_f16() && !ctx.has_f16()) || (k.needs_subgroups() && !ctx.has_subgroups()) {
            continue;
        }
        ctx.pipeline(&k)?;
    }
    Ok(())
}
