/**
 * The terminal screen: an output flow that streams text as it comes, and an
 * input line (prompt and what the person is typing) kept below it.
 *
 * Every write hides the input line, appends to the output where it stopped
 * (mid-line, since answers stream word by word), and draws the input line
 * again. The screen wraps long lines itself, one column short of the width, so
 * it always knows where the output cursor is. Text from outside (the model,
 * tools, files) is stripped of control characters, so nothing it contains can
 * move the cursor or change the terminal.
 *
 * When the output is not a terminal (a pipe, a file), text is written as is
 * and there is no input line.
 *
 * @since 0.1.0
 */

/** Where the screen writes: `process.stdout`, or anything shaped like it. */
export interface Output {
  readonly write: (chunk: string) => unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

/** SGR styles. */
export const Style = {
  plain: "",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
  boldCyan: "\x1b[1;36m",
  boldGreen: "\x1b[1;32m",
  boldYellow: "\x1b[1;33m"
} as const
export type Style = (typeof Style)[keyof typeof Style]

/** A screen. */
export interface Screen {
  /** Appends text to the output flow, where it stopped. */
  readonly print: (text: string, style?: Style) => void
  /** Ends the current output line, if it has anything on it. */
  readonly newline: () => void
  /** Writes a whole line of its own. */
  readonly line: (text: string, style?: Style) => void
  /** The column the output stopped at (0: at the start of a line). */
  readonly column: () => number
  /** Whether the output stopped after whitespace (or at the start of a line). */
  readonly afterSpace: () => boolean
  /** Sets the prompt (and its style) and the text being typed, and draws the input line. */
  readonly input: (prompt: string, typed: string, style?: Style) => void
  /** Removes the input line for good and leaves the cursor below the output (when the program ends). */
  readonly close: () => void
}

/** Control characters (escape included), but not newlines: what outside text must not carry to the terminal. */
const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g

/** Makes text from outside safe to print: tabs become spaces, other control characters go. */
export const sanitize = (text: string): string =>
  text.replace(/\r\n?/g, "\n").replace(/\t/g, "  ").replace(controls, "")

const reset = "\x1b[0m"

/** Makes a screen over an output. */
export const make = (output: Output): Screen => {
  const tty = output.isTTY === true
  let column = 0
  let lastChar = "\n"
  let inputShown = false
  let closed = false
  let prompt = ""
  let promptStyle: Style = Style.plain
  let typed = ""

  const width = () => Math.max(20, (output.columns ?? 80) - 1)

  // Back to where the output stopped: clear the input row, go up to the output's row if it is mid-line.
  const hideInput = (): string => {
    if (!tty || !inputShown) return ""
    inputShown = false
    return "\r\x1b[2K" + (column > 0 ? `\x1b[1A\x1b[${column + 1}G` : "")
  }

  const showInput = (): string => {
    if (!tty || closed) return ""
    inputShown = true
    // One row, always: the prompt is cut to the width, the typed text shows its end.
    const label = Array.from(prompt).slice(0, width() - 1).join("")
    const room = width() - Array.from(label).length
    const characters = Array.from(typed)
    const visible = characters.slice(Math.max(0, characters.length - room)).join("")
    const shown = promptStyle === "" ? label : promptStyle + label + reset
    return (column > 0 ? "\r\n" : "") + shown + visible
  }

  // Wraps at word boundaries when a word fits on a line of its own, else mid-word; a space at the end of a full
  // line is dropped. Text streams in pieces, so a word split across two pieces may still be cut.
  const render = (text: string, style: Style): string => {
    let out = ""
    const emit = (run: string) => {
      if (run.length > 0) out += style === "" ? run : style + run + reset
    }
    const breakLine = () => {
      out += tty ? "\r\n" : "\n"
      column = 0
      lastChar = "\n"
    }
    for (const piece of sanitize(text).match(/\n| +|[^ \n]+/g) ?? []) {
      if (piece === "\n") {
        breakLine()
        continue
      }
      const chars = Array.from(piece)
      if (!tty) {
        emit(piece)
        column += chars.length
        lastChar = chars[chars.length - 1] ?? lastChar
        continue
      }
      if (piece.startsWith(" ")) {
        const room = width() - column
        if (room <= 0) {
          breakLine()
          continue
        }
        emit(piece.slice(0, room))
        column += Math.min(room, chars.length)
        lastChar = " "
        continue
      }
      if (column > 0 && column + chars.length > width() && chars.length <= width()) breakLine()
      for (let start = 0; start < chars.length;) {
        if (column >= width()) breakLine()
        const take = Math.min(width() - column, chars.length - start)
        emit(chars.slice(start, start + take).join(""))
        column += take
        start += take
      }
      lastChar = chars[chars.length - 1] ?? lastChar
    }
    return out
  }

  const write = (body: () => string) => {
    const out = hideInput() + body() + showInput()
    if (out.length > 0) output.write(out)
  }

  const print = (text: string, style: Style = Style.plain) => write(() => render(text, tty ? style : Style.plain))

  const newline = () => {
    if (column > 0) print("\n")
  }

  return {
    print,
    newline,
    line: (text, style) => {
      newline()
      print(`${text}\n`, style)
    },
    column: () => column,
    afterSpace: () => column === 0 || lastChar === " ",
    input: (nextPrompt, nextTyped, style = Style.plain) => {
      prompt = sanitize(nextPrompt).replace(/\n/g, " ")
      promptStyle = style
      typed = sanitize(nextTyped).replace(/\n/g, " ")
      write(() => "")
    },
    close: () => {
      closed = true
      const out = hideInput() + (column > 0 ? (tty ? "\r\n" : "\n") : "")
      column = 0
      if (out.length > 0) output.write(out)
    }
  }
}
