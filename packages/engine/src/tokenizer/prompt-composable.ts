// A1111's composable diffusion: the positive prompt splits on the word AND into sub-prompts, each optionally ending in
// `:weight` (`a cat :1.2 AND a dog :0.8`). Each sub-prompt has its own schedule and conditioning; the guided
// prediction is uncond + cfg * sum(weight_i * (cond_i - uncond)), as A1111's combine_denoised. Negative prompts are
// not split (A1111 reads AND there as plain text).

export interface ComposablePart {
  text: string;
  weight: number;
}

const AND = /\bAND\b/;
// text, then an optional `:number` at the end (A1111's re_weight; `.` does not cross newlines there either)
const WEIGHT = /^(\s*.*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$/;

export function splitComposable(prompt: string): ComposablePart[] {
  return prompt.split(AND).map((sub) => {
    const m = WEIGHT.exec(sub);
    if (!m) return { text: sub, weight: 1 };
    return { text: m[1], weight: m[2] !== undefined ? Number.parseFloat(m[2]) : 1 };
  });
}
