// Conditioning as a per-step schedule, as A1111 builds it: the positive prompt splits on AND into weighted parts,
// each part and the negative prompt become [end_at_step, text] schedules (prompt editing, alternation), and each
// distinct text of the batch goes through the text encoder once. All texts of one item are padded to the item's
// largest chunk count, so an item keeps one sequence length for the whole run.
import type * as ort from 'onnxruntime-node';
import { checkPromptChunks } from '@farm/core';
import {
  promptSchedule,
  scheduleIndexAt,
  splitComposable,
  tokenizeWeighted,
  padChunks,
  type EmbeddingTokens,
  type PromptTokenizer,
  type PromptChunk,
} from '../tokenizer';
import { encodeChunks, type TextLayer, type TextStates } from './text-encoding';

export interface ScheduledStates {
  endAtStep: number;
  text: string;
  states: TextStates;
}

export interface RowConditioning {
  /** AND parts of the positive prompt, each with its weight and schedule */
  parts: { weight: number; schedule: ScheduledStates[] }[];
  uncond: ScheduledStates[];
  /** 77 * chunks, the same for every text of the item */
  sequence: number;
  /** textual inversion embeddings the item's prompts use (positive or negative) */
  embeddings: string[];
}

export interface ConditioningAt {
  conds: { states: TextStates; weight: number }[];
  uncond: TextStates;
  /** identifies the texts in use, to know when a batch's states must be rebuilt */
  key: string;
}

export interface PromptPair {
  prompt: string;
  negative: string;
  /** the text-encoder output this pair is read from (clip skip); absent: last_hidden_state */
  layer?: TextLayer | null;
}

/** The texts each prompt needs over `steps` steps, without touching the text encoder. */
export function scheduleTexts(pair: PromptPair, steps: number) {
  return {
    parts: splitComposable(pair.prompt).map((part) => ({ weight: part.weight, schedule: promptSchedule(part.text, steps) })),
    uncond: promptSchedule(pair.negative, steps),
  };
}

/**
 * Encodes the conditioning schedules of a batch of prompt pairs; each distinct (text, length) is encoded once. A
 * prompt of more than `maxChunks` chunks is refused before the text encoder runs (ValidationError naming it).
 */
export async function encodeConditioning(
  session: ort.InferenceSession,
  tokenizer: PromptTokenizer,
  pairs: PromptPair[],
  steps: number,
  embeddings: EmbeddingTokens[] = [],
  maxChunks = Infinity,
): Promise<RowConditioning[]> {
  const planned = pairs.map((pair) => {
    const texts = scheduleTexts(pair, steps);
    const distinct = [...new Set([...texts.parts.flatMap((p) => p.schedule.map((e) => e.text)), ...texts.uncond.map((e) => e.text)])];
    const used = new Set<string>();
    const chunks = new Map(distinct.map((t) => [t, tokenizeWeighted(tokenizer, t, embeddings, used)]));
    const countOf = (schedule: { text: string }[]) => Math.max(...schedule.map((e) => chunks.get(e.text)!.length));
    checkPromptChunks('prompt', Math.max(...texts.parts.map((p) => countOf(p.schedule))), maxChunks);
    checkPromptChunks('negative_prompt', countOf(texts.uncond), maxChunks);
    const count = Math.max(...[...chunks.values()].map((c) => c.length));
    return { texts, chunks, count, used };
  });
  // one text-encoder run per output layer (clip skip), each distinct (layer, length, text) once
  const layerKey = (l?: TextLayer | null) => l?.output ?? 'last';
  const byLayer = new Map<string, { layer: TextLayer | null; unique: Map<string, PromptChunk[]> }>();
  planned.forEach((p, i) => {
    const layer = pairs[i].layer ?? null;
    const group = byLayer.get(layerKey(layer)) ?? { layer, unique: new Map() };
    byLayer.set(layerKey(layer), group);
    for (const [text, chunks] of p.chunks) group.unique.set(`${p.count}|${text}`, padChunks(tokenizer, chunks, p.count));
  });
  const states = new Map<string, TextStates>();
  for (const [lk, { layer, unique }] of byLayer) {
    const keys = [...unique.keys()];
    const encoded = await encodeChunks(
      session,
      keys.map((k) => unique.get(k)!),
      layer,
    );
    keys.forEach((k, i) => states.set(`${lk}|${k}`, encoded[i]));
  }
  return planned.map(({ texts, count, used }, i) => {
    const lk = layerKey(pairs[i].layer);
    const withStates = (schedule: { endAtStep: number; text: string }[]) => schedule.map((e) => ({ ...e, states: states.get(`${lk}|${count}|${e.text}`)! }));
    const uncond = withStates(texts.uncond);
    return {
      parts: texts.parts.map((p) => ({ weight: p.weight, schedule: withStates(p.schedule) })),
      uncond,
      sequence: uncond[0].states.sequence,
      embeddings: [...used].sort(),
    };
  });
}

/** What a model call (counted from 0, as A1111's CFG denoiser counts) conditions on. */
export function conditioningAt(c: RowConditioning, call: number): ConditioningAt {
  const pick = (s: ScheduledStates[]) => scheduleIndexAt(s, call);
  const partIdx = c.parts.map((p) => pick(p.schedule));
  const uncondIdx = pick(c.uncond);
  return {
    conds: c.parts.map((p, i) => ({ states: p.schedule[partIdx[i]].states, weight: p.weight })),
    uncond: c.uncond[uncondIdx].states,
    key: `${partIdx.join(',')}|${uncondIdx}`,
  };
}

/** True when the guided prediction is the conditional one alone (cfg 1, one part of weight 1): no uncond pass needed. */
export function condOnly(c: RowConditioning, cfg: number): boolean {
  return cfg === 1 && c.parts.length === 1 && c.parts[0].weight === 1;
}
