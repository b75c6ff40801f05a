// Splits a ControlNet graph at its conditioning embedding: the part that depends on the control image alone
// (controlnet_cond -> the embedding added after conv_in) becomes cond_embedding.onnx, run once per job; the rest
// (model.embedded.onnx) takes that embedding instead of the image and runs at every step. Graph surgery on any
// ControlNet ONNX (generated, imported, exported elsewhere): the embedding is every node reachable from the image
// input and from no other input. External weights stay in their file; both halves name it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from '@farm/engine/onnx-proto';

export const CONTROL_INPUT = 'controlnet_cond';
export const EMBEDDING_NAME = 'controlnet_cond_embedding';

export interface ControlNetHalves {
  embedding: onnx.IModelProto;
  rest: onnx.IModelProto;
}

/** Element type of a value: its value_info, else the float initializer or Cast target of the node making it. */
function elemTypeOf(graph: NonNullable<onnx.IModelProto['graph']>, name: string, producer: onnx.INodeProto, inits: Map<string, onnx.ITensorProto>): number {
  const info = [...(graph.valueInfo ?? []), ...(graph.output ?? [])].find((v) => v.name === name);
  if (info?.type?.tensorType?.elemType) return info.type.tensorType.elemType;
  if (producer.opType === 'Cast') return Number(producer.attribute?.find((a) => a.name === 'to')?.i ?? onnx.TensorProto.DataType.FLOAT);
  const weight = (producer.input ?? [])
    .map((i) => inits.get(i))
    .find((t) => t && (t.dataType === onnx.TensorProto.DataType.FLOAT || t.dataType === onnx.TensorProto.DataType.FLOAT16));
  return weight?.dataType ?? onnx.TensorProto.DataType.FLOAT;
}

/** The two halves, or null when the graph has no separable embedding (no such input, or the image also feeds later nodes). */
export function splitControlNet(model: onnx.IModelProto): ControlNetHalves | null {
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  if (!(graph.input ?? []).some((i) => i.name === CONTROL_INPUT)) return null;
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  // nodes are topologically ordered: a value depends on the image and/or on the other inputs
  const fromImage = new Set([CONTROL_INPUT]);
  const fromOthers = new Set((graph.input ?? []).map((i) => i.name!).filter((n) => n !== CONTROL_INPUT && !inits.has(n)));
  const embedding = new Set<onnx.INodeProto>();
  for (const n of nodes) {
    const image = (n.input ?? []).some((i) => fromImage.has(i));
    const others = (n.input ?? []).some((i) => fromOthers.has(i));
    for (const o of n.output ?? []) {
      if (image) fromImage.add(o);
      if (others) fromOthers.add(o);
    }
    if (image && !others) embedding.add(n);
  }
  const producedIn = new Map<string, onnx.INodeProto>();
  for (const n of embedding) for (const o of n.output ?? []) producedIn.set(o, n);
  const later = nodes.filter((n) => !embedding.has(n) && (n.input ?? []).some((i) => fromImage.has(i) || fromOthers.has(i)));
  if (later.some((n) => (n.input ?? []).includes(CONTROL_INPUT))) return null;
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const boundary = [...producedIn.keys()].filter((v) => outputs.has(v) || later.some((n) => (n.input ?? []).includes(v)));
  if (boundary.length !== 1 || outputs.has(boundary[0])) return null;
  const [cut] = boundary;
  // nodes on neither side (constants, Casts of stored weights) go with each half that reads them
  const free = nodes.filter((n) => !embedding.has(n) && !later.includes(n));
  const withFree = (part: onnx.INodeProto[]): onnx.INodeProto[] => {
    const needed = new Set(part.flatMap((n) => n.input ?? []));
    const kept = new Set<onnx.INodeProto>();
    for (let i = free.length - 1; i >= 0; i--) {
      if ((free[i].output ?? []).some((o) => needed.has(o))) {
        kept.add(free[i]);
        for (const x of free[i].input ?? []) needed.add(x);
      }
    }
    return nodes.filter((n) => kept.has(n) || part.includes(n));
  };
  const embNodes = withFree([...embedding]);
  const restNodes = withFree(later).map((n) => ({ ...n, input: (n.input ?? []).map((i) => (i === cut ? EMBEDDING_NAME : i)) }));
  const embOut = embNodes.map((n) => (n.output?.includes(cut) ? { ...n, output: n.output.map((o) => (o === cut ? EMBEDDING_NAME : o)) } : n));
  const used = (part: onnx.INodeProto[]) => {
    const names = new Set(part.flatMap((n) => n.input ?? []));
    return (graph.initializer ?? []).filter((t) => names.has(t.name!));
  };
  const elemType = elemTypeOf(graph, cut, producedIn.get(cut)!, inits);
  const embeddingInfo: onnx.IValueInfoProto = {
    name: EMBEDDING_NAME,
    type: { tensorType: { elemType, shape: { dim: ['batch', 'channels', 'embedding_height', 'embedding_width'].map((d) => ({ dimParam: d })) } } },
  };
  const header = { irVersion: model.irVersion, producerName: model.producerName, producerVersion: model.producerVersion, opsetImport: model.opsetImport };
  return {
    embedding: {
      ...header,
      graph: {
        name: `${graph.name}_cond_embedding`,
        node: embOut,
        initializer: used(embOut),
        input: (graph.input ?? []).filter((i) => i.name === CONTROL_INPUT),
        output: [embeddingInfo],
      },
    },
    rest: {
      ...header,
      graph: {
        name: `${graph.name}_embedded`,
        node: restNodes,
        initializer: used(restNodes),
        input: [...(graph.input ?? []).filter((i) => i.name !== CONTROL_INPUT), embeddingInfo],
        output: graph.output,
      },
    },
  };
}

/** The split files of a controlnet/ graph file: model.onnx -> cond_embedding.onnx + model.embedded.onnx (model.gpu.onnx -> *.gpu.onnx). */
export function splitFileNames(file: string): { embedding: string; rest: string } {
  const flavour = file.replace(/^model/, '');
  return { embedding: `cond_embedding${flavour}`, rest: `model.embedded${flavour}` };
}

/** Writes the split halves beside each ControlNet graph file of a folder; returns the files it split. */
export function splitControlNetFolder(dir: string, files = ['model.onnx', 'model.gpu.onnx']): string[] {
  const done: string[] = [];
  for (const file of files) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    const halves = splitControlNet(onnx.ModelProto.decode(readFileSync(path)));
    if (!halves) continue;
    const names = splitFileNames(file);
    writeFileSync(join(dir, names.embedding), onnx.ModelProto.encode(halves.embedding).finish());
    writeFileSync(join(dir, names.rest), onnx.ModelProto.encode(halves.rest).finish());
    done.push(file);
  }
  return done;
}
