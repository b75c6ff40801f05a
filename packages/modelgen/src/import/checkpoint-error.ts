/** A checkpoint that cannot become a model (pickle, wrong layout, mismatched tensors, no tokenizer): retrying cannot help. */
export class CheckpointError extends Error {}
