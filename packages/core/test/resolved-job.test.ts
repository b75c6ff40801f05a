// A request is resolved once: LoRA tags parsed out of the prompts and merged with the listed LoRAs, the batching key
// computed; the parameters themselves stay as the edge resolved them.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { resolveJob, batchKey, type GenerationParams } from '../src/index';

const params: GenerationParams = {
  kind: 'txt2img',
  model: 'tiny',
  prompt: 'a cat <lora:style:0.5> on a mat <lora:ink>',
  negative_prompt: 'blur <lora:neg:-1>',
  sampler: 'Euler',
  scheduler: 'Automatic',
  steps: 4,
  cfg_scale: 7,
  width: 64,
  height: 64,
  seed: 5,
  batch_size: 1,
  n_iter: 1,
  denoising_strength: 0.75,
  resize_mode: 0,
  loras: [{ name: 'style', weight: 0.25 }],
  controlnet: [],
};

test('resolveJob strips the tags, merges the LoRA set and computes the batching key once', () => {
  const job = resolveJob(params);
  assert.equal(job.prompt, 'a cat on a mat');
  assert.equal(job.negativePrompt, 'blur');
  assert.deepEqual(
    job.loras,
    [
      { name: 'ink', weight: 1 },
      { name: 'style', weight: 0.75 },
    ],
    'listed 0.25 + tagged 0.5, sorted by name',
  );
  assert.equal(job.batchKey, batchKey(params));
  assert.equal(job.params, params, 'the parameters are carried as they are (the infotext keeps the tags)');
  assert.notEqual(resolveJob({ ...params, prompt: 'a cat' }).batchKey, job.batchKey, 'a different LoRA set is another batch');
  assert.equal(
    resolveJob({ ...params, prompt: 'a dog <lora:style:0.5> <lora:ink:1>', seed: 9 }).batchKey,
    job.batchKey,
    'prompt text and seed do not split batches',
  );
});
