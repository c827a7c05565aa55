/**
 * The ONNX protobuf messages this package writes and reads, as a protobufjs descriptor.
 *
 * Only the subset of `onnx.proto` (ONNX IR, proto2) that a Genesis U-Net needs is declared: model,
 * graph, node, attribute, tensor, value info, type/shape, opset id and string-string entries. The
 * message and field numbers are those of the ONNX specification (`onnx/onnx.proto`, IR version 8),
 * so every ONNX tool reads the files; fields not declared here (sparse tensors, functions, training
 * info, …) are skipped when a foreign file is decoded. Wire encoding and decoding are protobufjs's.
 */
import protobuf from "protobufjs/light.js";

/** `TensorProto.DataType` values used here (onnx.proto). */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
/** `AttributeProto.AttributeType` values (onnx.proto). */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

const f = (id: number, type: string, rule?: "repeated") =>
  rule ? { id, type, rule, ...(isPacked(type) ? { options: { packed: true } } : {}) } : { id, type };
const isPacked = (t: string) => ["float", "int64", "int32", "double"].includes(t);

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: f(1, "string"),
            refAttrName: f(21, "string"),
            docString: f(13, "string"),
            type: f(20, "int32"),
            f: f(2, "float"),
            i: f(3, "int64"),
            s: f(4, "bytes"),
            t: f(5, "TensorProto"),
            g: f(6, "GraphProto"),
            floats: f(7, "float", "repeated"),
            ints: f(8, "int64", "repeated"),
            strings: f(9, "bytes", "repeated"),
          },
        },
        ValueInfoProto: {
          fields: { name: f(1, "string"), type: f(2, "TypeProto"), docString: f(3, "string") },
        },
        NodeProto: {
          fields: {
            input: f(1, "string", "repeated"),
            output: f(2, "string", "repeated"),
            name: f(3, "string"),
            opType: f(4, "string"),
            domain: f(7, "string"),
            attribute: f(5, "AttributeProto", "repeated"),
            docString: f(6, "string"),
          },
        },
        ModelProto: {
          fields: {
            irVersion: f(1, "int64"),
            opsetImport: f(8, "OperatorSetIdProto", "repeated"),
            producerName: f(2, "string"),
            producerVersion: f(3, "string"),
            domain: f(4, "string"),
            modelVersion: f(5, "int64"),
            docString: f(6, "string"),
            graph: f(7, "GraphProto"),
            metadataProps: f(14, "StringStringEntryProto", "repeated"),
          },
        },
        StringStringEntryProto: { fields: { key: f(1, "string"), value: f(2, "string") } },
        GraphProto: {
          fields: {
            node: f(1, "NodeProto", "repeated"),
            name: f(2, "string"),
            initializer: f(5, "TensorProto", "repeated"),
            docString: f(10, "string"),
            input: f(11, "ValueInfoProto", "repeated"),
            output: f(12, "ValueInfoProto", "repeated"),
            valueInfo: f(13, "ValueInfoProto", "repeated"),
          },
        },
        TensorProto: {
          fields: {
            dims: f(1, "int64", "repeated"),
            dataType: f(2, "int32"),
            floatData: f(4, "float", "repeated"),
            int32Data: f(5, "int32", "repeated"),
            int64Data: f(7, "int64", "repeated"),
            name: f(8, "string"),
            docString: f(12, "string"),
            rawData: f(9, "bytes"),
          },
        },
        TensorShapeProto: {
          fields: { dim: f(1, "Dimension", "repeated") },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: { dimValue: f(1, "int64"), dimParam: f(2, "string"), denotation: f(3, "string") },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensorType"] } },
          fields: { tensorType: f(1, "Tensor"), denotation: f(6, "string") },
          nested: {
            Tensor: { fields: { elemType: f(1, "int32"), shape: f(2, "TensorShapeProto") } },
          },
        },
        OperatorSetIdProto: { fields: { domain: f(1, "string"), version: f(2, "int64") } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
/** `onnx.ModelProto`. */
export const ModelProto = root.lookupType("onnx.ModelProto");

/** Plain-object forms (camelCase field names as protobufjs gives them). */
export interface AttributeObj {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}
export interface NodeObj {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  attribute?: AttributeObj[];
}
export interface TensorObj {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: number[];
  floatData?: number[];
}
export interface ValueInfoObj {
  name: string;
  type: {
    tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } };
  };
}
export interface ModelObj {
  irVersion: number;
  opsetImport: { domain?: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: {
    node: NodeObj[];
    name?: string;
    initializer: TensorObj[];
    docString?: string;
    input: ValueInfoObj[];
    output: ValueInfoObj[];
  };
  metadataProps: { key: string; value: string }[];
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelObj): Uint8Array {
  const msg = ModelProto.fromObject(model);
  return ModelProto.encode(msg).finish();
}

/**
 * Parse ONNX protobuf bytes. int64 fields come back as numbers, bytes as Uint8Array.
 * @throws Error (protobufjs's) on bytes that are not a valid protobuf of this shape.
 */
export function decodeModel(bytes: Uint8Array): ModelObj {
  const msg = ModelProto.decode(bytes);
  return ModelProto.toObject(msg, { longs: Number, defaults: false, arrays: true }) as ModelObj;
}
