// A BERT WordPiece vocabulary of our own, laid out like bert-base-chinese's vocab.txt: [PAD], [unused1..99], [UNK],
// [CLS], [SEP], [MASK], then ASCII punctuation and digits, letters and `##` continuations, common English words, and
// Chinese characters one per token (a list of common ones first, then the CJK block in code-point order) until the
// vocabulary has `size` tokens.
const COMMON_CHINESE = `的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而
能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其
种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太
水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任
至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往
展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越
史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切团格油画尺云雨雪春夏秋冬
猫狗鸟鱼树草桥湖星灯夜梦龙凤仙侠古景像城落霞孤鹜齐飞秋水共长天一色墨彩素描插赛博朋克未来宇航员骑马月球荷塘绿蓝紫粉金银木竹松梅兰菊`;

const ENGLISH = `a an the of on in with and at by to for from photo portrait painting oil watercolor style art artist detailed high
quality best masterpiece beautiful landscape mountain mountains lake sea river sky sunset sunrise night city street cat dog
horse bird girl boy woman man face hair eyes light lighting cinematic realistic anime illustration digital concept fantasy
castle forest flower flowers tree trees snow rain cloud clouds blue red green white black gold van gogh`;

const SPECIALS = ['[PAD]', ...Array.from({ length: 99 }, (_, i) => `[unused${i + 1}]`), '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export function buildWordPieceVocab(size: number): string[] {
  const tokens: string[] = [];
  const seen = new Set<string>();
  const add = (t: string) => {
    if (tokens.length < size && !seen.has(t)) {
      seen.add(t);
      tokens.push(t);
    }
  };
  SPECIALS.forEach(add);
  for (let cp = 33; cp <= 126; cp++) {
    const ch = String.fromCharCode(cp);
    if (!/[A-Z]/.test(ch)) add(ch); // lower-cased text never has capitals
  }
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789') add(`##${ch}`);
  for (const p of ['，', '。', '、', '！', '？', '：', '；', '“', '”', '（', '）', '《', '》']) add(p);
  for (const w of ENGLISH.split(/\s+/)) if (w) add(w);
  for (const ch of COMMON_CHINESE.replace(/\s+/g, '')) add(ch);
  for (let cp = 0x4e00; cp <= 0x9fa5 && tokens.length < size; cp++) add(String.fromCodePoint(cp));
  for (let i = 0; tokens.length < size; i++) add(`[unused_extra${i}]`);
  return tokens;
}
