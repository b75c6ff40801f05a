// numpy.random.SeedSequence (NEP 19's entropy mixer): what torchsde's Brownian tree seeds each node with.
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;

/** a non-negative integer as little-endian 32-bit words (0 -> [0]) */
export function intToWords(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) throw new Error('SeedSequence entropy must be non-negative');
  if (v === 0n) return [0];
  const out: number[] = [];
  while (v > 0n) {
    out.push(Number(v & 0xffffffffn));
    v >>= 32n;
  }
  return out;
}

export class SeedSequence {
  private readonly pool: Uint32Array;

  constructor(entropy: number | bigint, spawnKey: (number | bigint)[] = [], poolSize = 4) {
    let run = intToWords(entropy);
    const spawn = spawnKey.flatMap((k) => intToWords(k));
    if (spawn.length > 0 && run.length < poolSize) run = [...run, ...new Array<number>(poolSize - run.length).fill(0)];
    const entropyArray = [...run, ...spawn];
    this.pool = new Uint32Array(poolSize);
    let hashConst = INIT_A;
    const hashmix = (value: number) => {
      value = (value ^ hashConst) >>> 0;
      hashConst = Math.imul(hashConst, MULT_A) >>> 0;
      value = Math.imul(value, hashConst) >>> 0;
      return (value ^ (value >>> XSHIFT)) >>> 0;
    };
    const mix = (x: number, y: number) => {
      const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
      return (r ^ (r >>> XSHIFT)) >>> 0;
    };
    const m = this.pool;
    for (let i = 0; i < m.length; i++) m[i] = hashmix(i < entropyArray.length ? entropyArray[i] : 0);
    for (let src = 0; src < m.length; src++) {
      for (let dst = 0; dst < m.length; dst++) if (src !== dst) m[dst] = mix(m[dst], hashmix(m[src]));
    }
    for (let src = m.length; src < entropyArray.length; src++) {
      for (let dst = 0; dst < m.length; dst++) m[dst] = mix(m[dst], hashmix(entropyArray[src]));
    }
  }

  /** generate_state(n) as uint32 words */
  generateState(n: number): number[] {
    let hashConst = INIT_B;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      let v = (this.pool[i % this.pool.length] ^ hashConst) >>> 0;
      hashConst = Math.imul(hashConst, MULT_B) >>> 0;
      v = Math.imul(v, hashConst) >>> 0;
      out.push((v ^ (v >>> XSHIFT)) >>> 0);
    }
    return out;
  }
}
