import { DecodingMode, decodeHTML, decodeHTMLStrict, replaceCodePoint } from 'entities/decode';

/**
 * Wan2.1's prompt cleaning, which Pusa V1 inherits (`HuggingfaceTokenizer(clean='whitespace')` in
 * wan/modules/tokenizers.py): `whitespace_clean(basic_clean(text))`, that is `ftfy.fix_text`, `html.unescape` twice,
 * strip, collapse `\s+` to one space, strip. Checked character for character against Python 3.11, ftfy 6.3.1 and
 * `regex` on 25,000 inputs (test/fixtures/prompt-cleaning).
 *
 * One gap, by design: ftfy's mojibake repair (`fix_encoding`: re-decoding text such as `sÃ³` that was UTF-8 read as
 * Windows-1252, with its sub-steps `restore_byte_a0`, `replace_lossy_sequences`, `decode_inconsistent_utf8`) is a
 * heuristic over ftfy's own character-frequency tables and has no JavaScript port; prompts typed into a chat box are
 * not mojibake. Every other ftfy step is here.
 */
export function cleanPrompt(prompt: string): string {
  return unescapeHtml(unescapeHtml(fixText(prompt)))
    .replace(PY_WHITE_SPACE, ' ')
    .replace(PY_STRIP_ENDS, '');
}

// "Whitespace" as Wan's Python means it: `regex`'s `\s` (Unicode White_Space) for the collapse and `str.strip()` (which
// also drops U+001C–U+001F) for the trim. JavaScript's `\s` and `trim()` would also eat U+FEFF, which Python keeps
// (ftfy removes it anyway, but the unescape after ftfy can bring one back from `&#xfeff;`).
const PY_SPACE = String.raw`\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const PY_WHITE_SPACE = new RegExp(`[${PY_SPACE}]+`, 'g');
const PY_STRIP_ENDS = new RegExp(String.raw`^[${PY_SPACE}\x1c-\x1f]+|[${PY_SPACE}\x1c-\x1f]+$`, 'g');

/**
 * Python's `html.unescape`: the references Python's own pattern finds (`&#65`, `&#x41;`, `&name;`, legacy names
 * without `;` such as `&amp`), decoded with the HTML5 tables of the `entities` package. Python's rules differ from
 * the HTML tokenizer's only for numeric references to non-characters and most control characters (`&#1;`, `&#x7f;`,
 * `&#xfdd0;`, `&#xffff;`): Python drops them, the tokenizer keeps them.
 */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF, (whole: string, ref: string) => {
    if (ref[0] !== '#') {
      // Python takes the whole name, else its longest prefix that is a legacy (semicolon-free) name, which is what the
      // HTML tokenizer's longest match on `&name` alone gives: a semicolon can only be the last character of `ref`
      return decodeHTML(whole, DecodingMode.Legacy);
    }
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const num = Number.parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10);
    // NUL, C1 (Windows-1252), surrogates and beyond U+10FFFF: Python and the HTML tables agree
    if (num === 0 || (num >= 0x80 && num <= 0x9f) || (num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff)
      return String.fromCodePoint(replaceCodePoint(num > 0x10ffff ? 0x110000 : num));
    return isPythonDroppedCodePoint(num) ? '' : String.fromCodePoint(num);
  });
}

// html._charref, with the `u` flag so that `{1,32}` counts code points as Python does
const PY_CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** html._invalid_codepoints: C0 controls but tab, LF, FF, CR; DEL; U+FDD0–U+FDEF; the last two of every plane. */
function isPythonDroppedCodePoint(num: number): boolean {
  return (
    (num >= 0x1 && num <= 0x8) ||
    num === 0xb ||
    (num >= 0xe && num <= 0x1f) ||
    num === 0x7f ||
    (num >= 0xfdd0 && num <= 0xfdef) ||
    (num & 0xfffe) === 0xfffe
  );
}

/**
 * `ftfy.fix_text` with its default configuration, less `fix_encoding` (see `cleanPrompt`). As ftfy does: the text is
 * fixed line by line, and once a line holds a `<` the text is taken for HTML and entities are left for the rest of it;
 * each line goes through the steps in ftfy's order until nothing changes.
 */
export function fixText(text: string): string {
  let entities = true;
  let out = '';
  for (const line of text.split(/(?<=\n)/)) {
    if (line.includes('<')) entities = false;
    let fixed = line;
    for (;;) {
      const before = fixed;
      if (entities) fixed = fixed.replace(FTFY_ENTITY, ftfyEntity);
      fixed = fixed.replace(C1_CONTROL, (c1) => String.fromCodePoint(replaceCodePoint(c1.charCodeAt(0))));
      fixed = fixed.replace(/[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g, (c) => LIGATURES[c] ?? c);
      fixed = fixed.replace(/[\u3000\uff01-\uffef]/g, fullToStandardWidth);
      fixed = fixed.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
      fixed = fixed.replace(LINE_BREAK, '\n');
      fixed = fixed.replace(/[\ud800-\udfff]/gu, '\ufffd'); // lone surrogates: a pair is one code point under `u`
      fixed = fixed.replace(TERMINAL_ESCAPE, '');
      fixed = fixed.replace(CONTROL_CHARS, '');
      fixed = fixed.normalize('NFC');
      if (fixed === before) break;
    }
    out += fixed;
  }
  return out;
}

// fix_c1_controls: U+0080–U+009F read as Windows-1252, as browsers do (the same table as HTML's numeric references)
const C1_CONTROL = /[\x80-\x9f]/g;
// fix_line_breaks
const LINE_BREAK = /\r\n?|[\u2028\u2029\x85]/g;
// remove_terminal_escapes (ANSI colours); Python's `\d` is any Unicode decimal digit
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what the pattern is about
const TERMINAL_ESCAPE = /\x1b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu;
// remove_control_chars: C0 controls but the whitespace ones, DEL, deprecated Arabic format controls, BOM, U+FFF9–FFFC
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters ftfy removes
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

// ftfy.fixes.unescape_html: only references that end in `;`, so informal text such as "this&not that" is left alone
const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

function ftfyEntity(ref: string): string {
  if (ref[1] === '#') {
    const decoded = unescapeHtml(ref);
    return decoded.includes(';') ? ref : decoded;
  }
  const decoded = decodeHTMLStrict(ref);
  if (decoded !== ref) return decoded;
  // ftfy also reads all-caps forms of lower-case names (P&EACUTE;REZ), where the capitals are no name of their own
  const lower = ref.toLowerCase();
  if (lower.toUpperCase() !== ref || unescapeHtml(ref) !== ref) return ref;
  const char = decodeHTMLStrict(lower);
  return char === lower ? ref : char.toUpperCase();
}

// ftfy.chardata.LIGATURES: Latin typographic ligatures and legacy digraphs, not æ or œ, which are letters
const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};

/** ftfy.chardata.WIDTH_MAP: halfwidth and fullwidth forms to their NFKC form, and U+3000 to a space. */
function fullToStandardWidth(char: string): string {
  return char === '\u3000' ? ' ' : char.normalize('NFKC');
}
