// The Brownian motion A1111 gives its SDE samplers: k-diffusion's BrownianTreeNoiseSampler over torchsde's
// BrownianTree (a BrownianInterval with halfway_tree, tol 1e-6, pool_size 24, no Lévy area) seeded with the
// image's seed. Times are sigmas rounded to 6 decimals; each interval is split at its rounded midpoint until the
// query points are nodes; a node's seeds come from numpy's SeedSequence(seed, spawn_key=(key, depth)); a child's
// increment is the Brownian bridge of its parent's (mean + sqrt(var) · randn(parent's W seed)), in float32 as torch
// computes it. `randnForSeed` is the generator torch would use for a freshly seeded generator of that seed.
import { SeedSequence } from './seed-sequence';
import type { NoiseSource, SamplerNoise } from './types';
import { scaled } from './vec';

export type SeededRandn = (seed: number, n: number) => Float32Array;

const POOL_SIZE = 24;
const f = Math.fround;

interface Node {
  start: number;
  end: number;
  parent: Node | null;
  isLeft: boolean;
  spawnKey: number;
  depth: number;
  midway?: number;
  wSeed?: number;
  left?: Node;
  right?: Node;
}

export class BrownianTree {
  private readonly root: Node;
  private readonly rootW: Float32Array;
  private readonly cache = new Map<Node, Float32Array>();

  constructor(
    t0: number,
    t1: number,
    private readonly entropy: number,
    private readonly n: number,
    private readonly randn: SeededRandn,
  ) {
    const [wSeed] = new SeedSequence(entropy, [], POOL_SIZE).generateState(3);
    this.root = { start: this.round(t0), end: this.round(t1), parent: null, isLeft: false, spawnKey: 0, depth: 0 };
    const scale = f(Math.sqrt(t1 - t0));
    this.rootW = Float32Array.from(randn(wSeed, n), (v) => f(v * scale));
  }

  /** torchsde's _round: Python's round(x, 6) */
  private round(x: number): number {
    return Number(x.toFixed(6));
  }

  /** W(tb) - W(ta) for ta <= tb inside [t0, t1] */
  increment(ta: number, tb: number): Float32Array {
    ta = Math.min(Math.max(ta, this.root.start), this.root.end);
    tb = Math.min(Math.max(tb, this.root.start), this.root.end);
    if (ta === tb) return new Float32Array(this.n);
    const nodes: Node[] = [];
    this.locate(this.root, this.round(ta), this.round(tb), nodes);
    const out = Float32Array.from(this.w(nodes[0]));
    for (const node of nodes.slice(1)) {
      const w = this.w(node);
      for (let i = 0; i < out.length; i++) out[i] = f(out[i] + w[i]);
    }
    return out;
  }

  private locate(node: Node, ta: number, tb: number, out: Node[]): void {
    // after splitting at the query point torchsde continues in the right child, which may not contain it: climb back
    if (ta < node.start || tb > node.end) {
      this.locate(node.parent!, ta, tb, out);
      return;
    }
    if (ta === node.start && tb === node.end) {
      out.push(node);
      return;
    }
    if (node.midway === undefined) {
      if (ta === node.start) {
        this.split(node, tb);
        this.locate(node.left!, ta, tb, out);
        return;
      }
      this.split(node, ta);
      this.locate(node.right!, ta, tb, out);
      return;
    }
    if (tb <= node.midway) this.locate(node.left!, ta, tb, out);
    else if (ta >= node.midway) this.locate(node.right!, ta, tb, out);
    else {
      this.locate(node.left!, ta, node.midway, out);
      this.locate(node.right!, node.midway, tb, out);
    }
  }

  private split(node: Node, midway: number): void {
    this.splitExact(node, 0.5 * (node.end + node.start));
    if (midway > node.midway!) this.split(node.right!, midway);
    else if (midway < node.midway!) this.split(node.left!, midway);
  }

  private splitExact(node: Node, midway: number): void {
    node.midway = this.round(midway);
    if (node.parent) {
      node.spawnKey = 2 * node.parent.spawnKey + (node.isLeft ? 0 : 1);
      node.depth = node.parent.depth + 1;
    }
    [node.wSeed] = new SeedSequence(this.entropy, [node.spawnKey, node.depth], POOL_SIZE).generateState(4);
    const child = (start: number, end: number, isLeft: boolean): Node => ({
      start: this.round(start),
      end: this.round(end),
      parent: node,
      isLeft,
      spawnKey: 0,
      depth: 0,
    });
    node.left = child(node.start, midway, true);
    node.right = child(midway, node.end, false);
  }

  /** the increment over a node, from its parent's by the Brownian bridge */
  private w(node: Node): Float32Array {
    if (!node.parent) return this.rootW;
    const hit = this.cache.get(node);
    if (hit) return hit;
    const parent = node.parent;
    const W = this.w(parent);
    const hRec = 1 / (parent.end - parent.start);
    const leftDiff = parent.midway! - parent.start;
    const rightDiff = parent.end - parent.midway!;
    const a = f(leftDiff);
    const b = f(hRec);
    const s = f(Math.sqrt(leftDiff * rightDiff * hRec));
    const noise = this.randn(parent.wSeed!, this.n);
    const leftW = new Float32Array(this.n);
    const rightW = new Float32Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const mean = f(f(W[i] * a) * b);
      leftW[i] = f(mean + f(noise[i] * s));
      rightW[i] = f(W[i] - leftW[i]);
    }
    if (this.cache.size > 256) this.cache.clear();
    this.cache.set(parent.left!, leftW);
    this.cache.set(parent.right!, rightW);
    return node.isLeft ? leftW : rightW;
  }
}

/**
 * k-diffusion's BrownianTreeNoiseSampler for one image: a tree over [sigma_min, sigma_max] of the full schedule;
 * noise(sigma, sigmaNext) = (W(sigmaNext) - W(sigma)) / sqrt(|sigmaNext - sigma|), unit variance.
 */
export function brownianNoise(seed: number, sigmaMin: number, sigmaMax: number, n: number, randn: SeededRandn) {
  const tree = new BrownianTree(f(sigmaMin), f(sigmaMax), seed, n, randn);
  return (sigma: number, sigmaNext: number): Float32Array => {
    const [a, b, sign] = sigma < sigmaNext ? [f(sigma), f(sigmaNext), 1] : [f(sigmaNext), f(sigma), -1];
    const w = tree.increment(a, b);
    const k = sign / Math.sqrt(Math.abs(b - a));
    return scaled(w, k);
  };
}

/**
 * The image's sampler noise with A1111's Brownian tree attached: `randn` stays the image's stream, `brownian` is the
 * tree over the full schedule's [sigma_min, sigma_max] seeded with the image's seed (built on first use).
 */
export function withBrownianTree(
  stream: NoiseSource,
  range: { sigmaMin: number; sigmaMax: number } | undefined,
  seed: number,
  randn: SeededRandn,
): SamplerNoise {
  if (!range) return stream;
  let noise: ((sigma: number, sigmaNext: number) => Float32Array) | null = null;
  return {
    randn: (n: number) => stream.randn(n),
    brownian: (sigma: number, sigmaNext: number, n: number) => {
      noise ??= brownianNoise(seed, range.sigmaMin, range.sigmaMax, n, randn);
      return noise(sigma, sigmaNext);
    },
  };
}
