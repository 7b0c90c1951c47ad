/**
 * Text for a terminal: styles, making outside text safe, and wrapping at word
 * boundaries.
 *
 * @internal
 */

/** What a line looks like. */
export type Style = "plain" | "bold" | "dim" | "red" | "green" | "yellow" | "cyan" | "magenta" | "blue" | "label"

/** A run of text in one style. */
export interface Span {
  readonly text: string
  readonly style: Style
  /** For `label`: the colour of its author. */
  readonly color?: number | undefined
}

/** One row on the screen: spans that fit the width. */
export type Line = ReadonlyArray<Span>

const sgr: Record<Exclude<Style, "label">, string> = {
  plain: "",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
  magenta: "\x1b[35m",
  blue: "\x1b[34m"
}

const reset = "\x1b[0m"

/** A line as the terminal draws it: with SGR codes when `color`, else plain text. */
export const paint = (line: Line, color: boolean): string =>
  line.map((span) => {
    if (!color || span.style === "plain" || span.text === "") return span.text
    const code = span.style === "label" ? `\x1b[1;${31 + ((span.color ?? 5) % 6)}m` : sgr[span.style]
    return code + span.text + reset
  }).join("")

/** A line's text without styles. */
export const plain = (line: Line): string => line.map((span) => span.text).join("")

/** Control characters (escape included), but not newlines: what outside text must not carry to the terminal. */
const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g

/** Makes text from outside safe to print: tabs become spaces, other control characters go. */
export const sanitize = (text: string): string =>
  text.replace(/\r\n?/g, "\n").replace(/\t/g, "  ").replace(controls, "")

/** Text on one line, cut to `max` characters. */
export const oneLine = (text: string, max: number): string => {
  const flat = sanitize(text).replace(/\s+/g, " ").trim()
  const chars = Array.from(flat)
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : flat
}

const length = (text: string) => Array.from(text).length

/**
 * Wraps text to rows of at most `width` characters, after `indent` on each
 * row. Breaks at spaces; a word longer than a row is cut (it could not fit
 * anywhere). Newlines in the text start new rows; spaces that end a row go.
 */
export const wrap = (text: string, width: number, indent = ""): Array<string> => {
  const room = Math.max(1, width - length(indent))
  const rows: Array<string> = []
  for (const paragraph of sanitize(text).split("\n")) {
    let row = ""
    for (const word of paragraph.split(/(?<= )(?=[^ ])/)) {
      // `word` is a word and the spaces after it.
      const bare = word.trimEnd()
      if (length(row) + length(bare) <= room) {
        row += word
        continue
      }
      if (row.trimEnd() !== "") rows.push(indent + row.trimEnd())
      row = ""
      let rest = Array.from(word)
      while (rest.length > room && rest.slice(0, room + 1).join("").trimEnd().length > room) {
        rows.push(indent + rest.slice(0, room).join(""))
        rest = rest.slice(room)
      }
      row = rest.join("")
    }
    rows.push(indent + row.trimEnd())
  }
  return rows
}
