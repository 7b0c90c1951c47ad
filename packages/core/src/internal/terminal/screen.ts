/**
 * The TTY edge: draws committed lines, the live region and the input line.
 *
 * Committed lines are written once and scroll away as a terminal's output
 * does. Below them, the live region (items still streaming, queued messages)
 * and the input line are redrawn in place: the cursor goes back to their
 * first row, clears to the end of the screen, and writes them again. Rows
 * are kept one column short of the width, so the terminal never wraps a row
 * itself and the region's height is always known.
 *
 * When the output is not a terminal (a pipe, a file), only committed lines
 * are written, without styles.
 *
 * @internal
 */
import type { Line } from "./text.js"
import { paint, sanitize } from "./text.js"

/** Where the screen writes: `process.stdout`, or anything shaped like it. */
export interface Output {
  readonly write: (chunk: string) => unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
  readonly rows?: number | undefined
}

/** The input line: its prompt, the text being typed and where the cursor is in it. */
export interface InputLine {
  readonly prompt: Line
  readonly text: string
  readonly cursor: number
}

/** A screen. */
export interface Screen {
  readonly tty: boolean
  /** Columns to wrap text at. */
  readonly width: () => number
  /** Rows the live region may use. */
  readonly liveRows: () => number
  /** Writes committed lines, then redraws the live region and the input line. */
  readonly draw: (commit: ReadonlyArray<Line>, live: ReadonlyArray<Line>, input: InputLine | undefined) => void
  /** Removes the live region and the input line for good (when the program ends). */
  readonly close: () => void
}

const chars = (text: string) => Array.from(text)

/** The input row: the prompt (cut to half the width) and the part of the text around the cursor. */
export const inputRow = (input: InputLine, width: number): { readonly prompt: Line; readonly text: string; readonly column: number } => {
  const promptText = input.prompt.map((span) => span.text).join("")
  const promptMax = Math.max(1, Math.floor(width / 2))
  const prompt: Line = chars(promptText).length <= promptMax
    ? input.prompt
    : [{ text: `${chars(promptText).slice(0, promptMax - 1).join("")}…`, style: input.prompt[0]?.style ?? "plain" }]
  const used = Math.min(chars(promptText).length, promptMax)
  const room = Math.max(1, width - used - 1)
  const text = chars(sanitize(input.text).replace(/\n/g, " "))
  const start = Math.max(0, input.cursor - room)
  return { prompt, text: text.slice(start, start + room).join(""), column: used + input.cursor - start }
}

/** A line cut to the width, so that the terminal never wraps it (the region's height would be wrong). */
export const fit = (line: Line, width: number): Line => {
  let room = width
  const spans: Array<Line[number]> = []
  for (const span of line) {
    if (room <= 0) break
    const text = chars(span.text)
    spans.push(text.length <= room ? span : { ...span, text: `${text.slice(0, Math.max(0, room - 1)).join("")}…` })
    room -= text.length
  }
  return spans
}

/** Makes a screen over an output. */
export const make = (output: Output): Screen => {
  const tty = output.isTTY === true
  /** Rows below the committed text: the live region and the input row; the cursor is on the last. */
  let drawn = 0
  let closed = false
  const width = () => Math.max(20, (output.columns ?? 80) - 1)

  const erase = (): string => {
    if (drawn === 0) return ""
    const up = drawn > 1 ? `\x1b[${drawn - 1}A` : ""
    drawn = 0
    return `\r${up}\x1b[J`
  }

  return {
    tty,
    width,
    liveRows: () => Math.max(4, (output.rows ?? 24) - 4),
    draw: (commit, live, input) => {
      if (!tty) {
        if (commit.length > 0) output.write(commit.map((line) => `${paint(line, false)}\n`).join(""))
        return
      }
      if (closed) return
      let out = erase()
      for (const line of commit) out += `${paint(fit(line, width()), true)}\r\n`
      for (const line of live) out += `${paint(fit(line, width()), true)}\r\n`
      drawn = live.length + 1
      if (input !== undefined) {
        const row = inputRow(input, width())
        out += paint(row.prompt, true) + row.text + "\r" + (row.column > 0 ? `\x1b[${row.column}C` : "")
      }
      output.write(out)
    },
    close: () => {
      if (closed) return
      closed = true
      if (tty) output.write(erase())
    }
  }
}
