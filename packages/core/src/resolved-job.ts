// A request resolved once, at the edge, into what everything downstream takes as it is: the generation parameters
// (defaults applied, limits checked, seed fixed: resolveParams), the LoRA set (listed and <lora:…> tags merged), the
// prompts without their LoRA tags, and the batching key. The queue carries it on the render job; the worker batches
// by its key without parsing anything again.
import { batchKey } from './batch-key';
import { extractLoraTags, mergeLoraRefs } from './lora-tags';
import type { GenerationParams, LoraRef } from './types';

export interface ResolvedJob {
  /** as resolved at the edge; `prompt` keeps its LoRA tags (A1111 writes them into the infotext) */
  params: GenerationParams;
  /** listed LoRAs and prompt tags, weights of one name added, sorted by name */
  loras: LoraRef[];
  /** the prompts as tokenized: LoRA tags removed */
  prompt: string;
  negativePrompt: string;
  /** jobs with equal keys can share one UNet batch */
  batchKey: string;
}

export function resolveJob(params: GenerationParams): ResolvedJob {
  const positive = extractLoraTags(params.prompt);
  const negative = extractLoraTags(params.negative_prompt);
  return {
    params,
    loras: mergeLoraRefs(params.loras, positive.loras),
    prompt: positive.prompt,
    negativePrompt: negative.prompt,
    batchKey: batchKey(params),
  };
}
