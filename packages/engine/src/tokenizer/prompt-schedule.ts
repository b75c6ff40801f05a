// A1111's prompt editing and alternation (modules/prompt_parser.py, 1.10 grammar), before emphasis is parsed:
//   [from:to:when]  [to:when]  [from::when]   when with a "." is a fraction of the steps, otherwise a step number;
//                                              the text is `from` while step <= when (int(when), at most steps)
//   [a|b|c]                                    one alternative per step, cycling (empty alternatives allowed)
// Emphasis brackets `(...)`, `(...:w)`, `[...]` are kept verbatim (with what is inside them resolved) for the
// emphasis parser; `\x` escapes pass through. At the top level stray `[ ] ( ) :` are plain text; anything the grammar
// cannot read (a stray `|`, an unclosed `[a|b`) leaves the whole prompt unscheduled, as A1111's parser does.
// Text-only: it never looks at tokens, so it works for any tokenizer (CLIP, BERT) and any language.

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'group'; open: string; parts: Node[][]; separators: string[]; close: string }
  | { kind: 'scheduled'; before: Node[] | null; after: Node[]; when: number }
  | { kind: 'alternate'; options: Node[][] };

export interface ScheduledPrompt {
  /** the last step (A1111 numbering) that uses this text; the final entry ends at `steps` */
  endAtStep: number;
  text: string;
}

const PLAIN = /(?:[^\\[\]():|]|\\.)+/y;
const NUMBER = /\s*([+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))\s*/y;

class Parser {
  pos = 0;
  constructor(
    readonly src: string,
    readonly steps: number,
  ) {}

  private match(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (m) this.pos = re.lastIndex;
    return m;
  }

  /** prompt: items until a character that cannot start one (`:`, `|`, a closing bracket, an unreadable bracket) */
  prompt(): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const start = this.pos;
      const plain = this.match(PLAIN);
      if (plain) {
        nodes.push({ kind: 'text', text: plain[0] });
        continue;
      }
      const ch = this.src[this.pos];
      const node = ch === '[' ? this.square() : ch === '(' ? this.round() : null;
      if (!node) {
        this.pos = start;
        return nodes;
      }
      nodes.push(node);
    }
  }

  private attempt<T>(f: () => T | null): T | null {
    const start = this.pos;
    const out = f();
    if (out === null) this.pos = start;
    return out;
  }

  private eat(ch: string): boolean {
    if (this.src[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  private number(): string | null {
    const m = this.match(NUMBER);
    return m ? m[1] : null;
  }

  private when(s: string): number {
    const v = Number(s);
    return Math.min(this.steps, Math.trunc(s.includes('.') ? v * this.steps : v));
  }

  /** `[` starts prompt editing, alternation or a weakening `[...]`, tried in that order */
  private square(): Node | null {
    return this.attempt(() => this.scheduled()) ?? this.attempt(() => this.alternate()) ?? this.attempt(() => this.group('[', ']', false));
  }

  private round(): Node | null {
    return this.attempt(() => this.group('(', ')', true));
  }

  private scheduled(): Node | null {
    if (!this.eat('[')) return null;
    const first = this.prompt();
    if (!this.eat(':')) return null;
    const short = this.attempt(() => {
      const n = this.number();
      return n !== null && this.eat(']') ? n : null;
    });
    if (short !== null) return { kind: 'scheduled', before: null, after: first, when: this.when(short) };
    const second = this.prompt();
    if (!this.eat(':')) return null;
    const n = this.number();
    if (n === null || !this.eat(']')) return null;
    return { kind: 'scheduled', before: first, after: second, when: this.when(n) };
  }

  private alternate(): Node | null {
    if (!this.eat('[')) return null;
    const options = [this.prompt()];
    while (this.eat('|')) options.push(this.prompt());
    if (options.length < 2 || !this.eat(']')) return null;
    return { kind: 'alternate', options };
  }

  /** `(p)`, `(p:p)` or `[p]`, written back as they are */
  private group(open: string, close: string, allowColon: boolean): Node | null {
    if (!this.eat(open)) return null;
    const parts = [this.prompt()];
    const separators: string[] = [];
    if (allowColon && this.eat(':')) {
      separators.push(':');
      parts.push(this.prompt());
    }
    if (!this.eat(close)) return null;
    return { kind: 'group', open, parts, separators, close };
  }

  /** start: prompts and stray `[ ] ( ) :`; null when something else is left (A1111 then keeps the prompt as is) */
  start(): Node[] | null {
    const nodes: Node[] = [];
    while (this.pos < this.src.length) {
      const before = this.pos;
      nodes.push(...this.prompt());
      if (this.pos < this.src.length && '[]():'.includes(this.src[this.pos])) nodes.push({ kind: 'text', text: this.src[this.pos++] });
      else if (this.pos === before) return null;
    }
    return nodes;
  }
}

function collectSteps(nodes: Node[], steps: number, out: Set<number>): void {
  for (const n of nodes) {
    if (n.kind === 'group') n.parts.forEach((p) => collectSteps(p, steps, out));
    else if (n.kind === 'scheduled') {
      if (n.when >= 1) out.add(n.when);
      if (n.before) collectSteps(n.before, steps, out);
      collectSteps(n.after, steps, out);
    } else if (n.kind === 'alternate') {
      for (let s = 1; s <= steps; s++) out.add(s);
      n.options.forEach((o) => collectSteps(o, steps, out));
    }
  }
}

function textAt(nodes: Node[], step: number): string {
  return nodes
    .map((n) => {
      switch (n.kind) {
        case 'text':
          return n.text;
        case 'group':
          return n.open + n.parts.map((p, i) => (i > 0 ? n.separators[i - 1] : '') + textAt(p, step)).join('') + n.close;
        case 'scheduled':
          return step <= n.when ? (n.before ? textAt(n.before, step) : '') : textAt(n.after, step);
        case 'alternate':
          return textAt(n.options[(step - 1) % n.options.length], step);
      }
    })
    .join('');
}

/** A1111's get_learned_conditioning_prompt_schedules for one prompt: [[end_at_step, text], ...] in step order. */
export function promptSchedule(prompt: string, steps: number): ScheduledPrompt[] {
  const tree = new Parser(prompt, steps).start();
  if (!tree) return [{ endAtStep: steps, text: prompt }];
  const ends = new Set([steps]);
  collectSteps(tree, steps, ends);
  return [...ends].sort((a, b) => a - b).map((endAtStep) => ({ endAtStep, text: textAt(tree, endAtStep) }));
}

/** The entry a model call uses: A1111 counts calls from 0 and takes the first entry with call <= end_at_step. */
export function scheduleIndexAt<T extends { endAtStep: number }>(schedule: readonly T[], call: number): number {
  const i = schedule.findIndex((e) => call <= e.endAtStep);
  return i < 0 ? 0 : i;
}
