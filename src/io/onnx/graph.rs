//! An ONNX graph under construction: nodes in order, the weights as
//! initializers, and fresh value names; then the model around it, with a
//! symbolic batch dimension on every input and output. The messages are
//! onnx-protobuf's (no hand-written encoder).

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::type_proto::{self, Tensor};
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, MessageField};

/// The opset the graph is written against: every operator used (LSTM,
/// GRU, Resize, BatchNormalization, Erf-free GELU...) as of opset 17.
pub const OPSET: i64 = 17;
/// The IR version onnxruntime reads with opset 17.
pub const IR_VERSION: i64 = 8;
/// The name of the batch dimension.
pub const BATCH: &str = "batch";

/// A node attribute.
pub struct Attr(AttributeProto);

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(t);
    a
}

impl Attr {
    pub fn int(name: &str, v: i64) -> Self {
        let mut a = attr(name, AttributeType::INT);
        a.i = v;
        Attr(a)
    }

    pub fn float(name: &str, v: f32) -> Self {
        let mut a = attr(name, AttributeType::FLOAT);
        a.f = v;
        Attr(a)
    }

    pub fn ints(name: &str, v: &[i64]) -> Self {
        let mut a = attr(name, AttributeType::INTS);
        a.ints = v.to_vec();
        Attr(a)
    }

    pub fn string(name: &str, v: &str) -> Self {
        let mut a = attr(name, AttributeType::STRING);
        a.s = v.as_bytes().to_vec();
        Attr(a)
    }
}

/// Nodes and initializers, each value named once.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
}

impl Graph {
    /// A fresh value name from `hint`.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// A node of `op` on `inputs` ("" for an input left out) with one
    /// output, which it returns.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<Attr>) -> String {
        self.op_n(op, inputs, 1, attrs).remove(0)
    }

    /// A node with `outputs` outputs.
    pub fn op_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<Attr>,
    ) -> Vec<String> {
        let outs: Vec<String> = (0..outputs)
            .map(|_| self.fresh(&op.to_lowercase()))
            .collect();
        self.op_into(op, inputs, &outs, attrs);
        outs
    }

    /// A node writing the named `outputs` (the graph's own outputs).
    pub fn op_into(&mut self, op: &str, inputs: &[&str], outputs: &[String], attrs: Vec<Attr>) {
        let mut n = NodeProto::new();
        n.op_type = op.into();
        n.name = format!("{op}_{}", self.nodes.len());
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outputs.to_vec();
        n.attribute = attrs.into_iter().map(|a| a.0).collect();
        self.nodes.push(n);
    }

    /// A float32 initializer of `dims` holding `data`.
    pub fn weight(&mut self, hint: &str, dims: &[usize], data: &[f32]) -> String {
        let mut t = TensorProto::new();
        t.name = self.fresh(hint);
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.data_type = DataType::FLOAT as i32;
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let name = t.name.clone();
        self.inits.push(t);
        name
    }

    /// An int64 initializer (shapes, axes).
    pub fn ints(&mut self, hint: &str, data: &[i64]) -> String {
        let mut t = TensorProto::new();
        t.name = self.fresh(hint);
        t.dims = vec![data.len() as i64];
        t.data_type = DataType::INT64 as i32;
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let name = t.name.clone();
        self.inits.push(t);
        name
    }

    /// A float32 scalar.
    pub fn scalar(&mut self, v: f32) -> String {
        self.weight("c", &[], &[v])
    }

    /// `x` reshaped to `[batch, dims...]`.
    pub fn reshape(&mut self, x: &str, dims: &[usize]) -> String {
        let shape: Vec<i64> = std::iter::once(-1)
            .chain(dims.iter().map(|&d| d as i64))
            .collect();
        let s = self.ints("shape", &shape);
        self.op("Reshape", &[x, &s], vec![])
    }

    /// The model: `inputs` and `outputs` are (name, dims after the batch).
    pub fn into_model(
        self,
        inputs: &[(&str, Vec<usize>)],
        outputs: &[(&str, Vec<usize>)],
        doc: &str,
    ) -> ModelProto {
        let mut g = GraphProto::new();
        g.name = "wgae".into();
        g.node = self.nodes;
        g.initializer = self.inits;
        g.input = inputs.iter().map(|(n, d)| value_info(n, d)).collect();
        g.output = outputs.iter().map(|(n, d)| value_info(n, d)).collect();
        let mut m = ModelProto::new();
        m.ir_version = IR_VERSION;
        m.producer_name = "wgae".into();
        m.producer_version = env!("CARGO_PKG_VERSION").into();
        m.doc_string = doc.into();
        let mut opset = OperatorSetIdProto::new();
        opset.version = OPSET;
        m.opset_import = vec![opset];
        m.graph = MessageField::some(g);
        m
    }
}

/// A float32 value of shape `[batch, dims...]`.
fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    let mut batch = Dimension::new();
    batch.value = Some(dimension::Value::DimParam(BATCH.into()));
    shape.dim.push(batch);
    for &d in dims {
        let mut dim = Dimension::new();
        dim.value = Some(dimension::Value::DimValue(d as i64));
        shape.dim.push(dim);
    }
    let mut tensor = Tensor::new();
    tensor.elem_type = DataType::FLOAT as i32;
    tensor.shape = MessageField::some(shape);
    let mut t = TypeProto::new();
    t.value = Some(type_proto::Value::TensorType(tensor));
    let mut v = ValueInfoProto::new();
    v.name = name.into();
    v.type_ = MessageField::some(t);
    v
}
