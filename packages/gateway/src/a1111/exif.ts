// The EXIF A1111 writes into JPEG and WebP results (piexif: Exif IFD UserComment, "UNICODE\0" + UTF-16BE) and reads
// back in png-info; plus splicing that EXIF into a JPEG (APP1) or a WebP (VP8X + EXIF chunk). Pure byte work.
const UNICODE = Buffer.from('UNICODE\0', 'latin1');
const ASCII = Buffer.from('ASCII\0\0\0', 'latin1');
const USER_COMMENT = 0x9286;
const EXIF_IFD = 0x8769;

/** A big-endian TIFF with IFD0 -> Exif IFD -> UserComment, as piexif.dump writes it (without the "Exif\0\0" header). */
export function userCommentTiff(text: string): Buffer {
  const utf16 = Buffer.from(text, 'utf16le').swap16();
  const comment = Buffer.concat([UNICODE, utf16]);
  const ifd = (tag: number, type: number, count: number, value: number, next = 0) => {
    const b = Buffer.alloc(2 + 12 + 4);
    b.writeUInt16BE(1, 0);
    b.writeUInt16BE(tag, 2);
    b.writeUInt16BE(type, 4);
    b.writeUInt32BE(count, 6);
    b.writeUInt32BE(value, 10);
    b.writeUInt32BE(next, 14);
    return b;
  };
  const header = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
  const ifd0 = ifd(EXIF_IFD, 4, 1, 8 + 18);
  const exif = ifd(USER_COMMENT, 7, comment.length, 8 + 18 + 18);
  return Buffer.concat([header, ifd0, exif, comment]);
}

/** The UserComment of an EXIF block (with or without its "Exif\0\0" header), decoded as piexif does; null if none. */
export function readUserComment(exif: Buffer): string | null {
  const tiff = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
  if (tiff.length < 8) return null;
  const le = tiff.toString('latin1', 0, 2) === 'II';
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const find = (ifdAt: number, tag: number): { type: number; count: number; valueAt: number } | null => {
    if (ifdAt + 2 > tiff.length) return null;
    const n = u16(ifdAt);
    for (let i = 0; i < n; i++) {
      const e = ifdAt + 2 + i * 12;
      if (e + 12 > tiff.length) return null;
      if (u16(e) === tag) return { type: u16(e + 2), count: u32(e + 4), valueAt: e + 8 };
    }
    return null;
  };
  const pointer = find(u32(4), EXIF_IFD);
  if (!pointer) return null;
  const entry = find(u32(pointer.valueAt), USER_COMMENT);
  if (!entry) return null;
  const at = entry.count <= 4 ? entry.valueAt : u32(entry.valueAt);
  const data = tiff.subarray(at, at + entry.count);
  const prefix = data.subarray(0, 8);
  const body = data.subarray(8);
  if (prefix.equals(UNICODE)) {
    // piexif writes UTF-16BE; some writers use the byte order of the TIFF
    const bytes = Buffer.from(body.subarray(0, body.length - (body.length % 2)));
    return (le ? bytes : bytes.swap16()).toString('utf16le').replace(/\0+$/, '');
  }
  if (prefix.equals(ASCII)) return body.toString('latin1').replace(/\0+$/, '');
  return data.toString('utf8').replace(/\0+$/, '');
}

/** Inserts EXIF as an APP1 segment right after the JPEG's SOI marker. */
export function jpegWithExif(jpeg: Buffer, tiff: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(2)]);
}

const chunk = (type: string, data: Buffer) => {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 ? Buffer.from([0]) : Buffer.alloc(0)]);
};

/** A WebP in the extended (VP8X) format with an EXIF chunk; the image chunks are kept as they are. */
export function webpWithExif(webp: Buffer, tiff: Buffer, width: number, height: number): Buffer {
  if (webp.toString('latin1', 0, 4) !== 'RIFF' || webp.toString('latin1', 8, 12) !== 'WEBP') throw new Error('not a WebP');
  const chunks: [string, Buffer][] = [];
  for (let at = 12; at + 8 <= webp.length;) {
    const type = webp.toString('latin1', at, at + 4);
    const size = webp.readUInt32LE(at + 4);
    chunks.push([type, webp.subarray(at + 8, at + 8 + size)]);
    at += 8 + size + (size % 2);
  }
  let vp8x = chunks.find(([t]) => t === 'VP8X')?.[1];
  if (!vp8x) {
    vp8x = Buffer.alloc(10);
    vp8x.writeUIntLE(width - 1, 4, 3);
    vp8x.writeUIntLE(height - 1, 7, 3);
  } else vp8x = Buffer.from(vp8x);
  vp8x[0] |= 0x08;
  const body = Buffer.concat([chunk('VP8X', vp8x), ...chunks.filter(([t]) => t !== 'VP8X' && t !== 'EXIF').map(([t, d]) => chunk(t, d)), chunk('EXIF', tiff)]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length + 4, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}
