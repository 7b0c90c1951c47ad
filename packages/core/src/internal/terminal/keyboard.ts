/**
 * The keyboard edge: stdin read key by key in raw mode (so Ctrl-C is a key,
 * not a signal), or line by line when it is not a terminal.
 *
 * @internal
 */
import * as Readline from "node:readline"
import type { Key } from "./editor.js"

/** What readline says about a keypress. */
export interface KeyInfo {
  readonly name?: string | undefined
  readonly ctrl?: boolean | undefined
  readonly meta?: boolean | undefined
}

const ctrlKeys: Record<string, Key> = {
  c: { _tag: "CtrlC" },
  d: { _tag: "CtrlD" },
  u: { _tag: "ClearBefore" },
  k: { _tag: "ClearAfter" },
  w: { _tag: "DeleteWordBefore" },
  a: { _tag: "Home" },
  e: { _tag: "End" },
  b: { _tag: "Left" },
  f: { _tag: "Right" },
  p: { _tag: "Up" },
  n: { _tag: "Down" },
  h: { _tag: "Backspace" },
  left: { _tag: "WordLeft" },
  right: { _tag: "WordRight" }
}

const namedKeys: Record<string, Key> = {
  return: { _tag: "Enter" },
  enter: { _tag: "Enter" },
  backspace: { _tag: "Backspace" },
  delete: { _tag: "Delete" },
  left: { _tag: "Left" },
  right: { _tag: "Right" },
  home: { _tag: "Home" },
  end: { _tag: "End" },
  up: { _tag: "Up" },
  down: { _tag: "Down" }
}

/** The key a readline `keypress` is, if it is one the terminal handles. */
export const keyOf = (text: string | undefined, info: KeyInfo | undefined): Key | undefined => {
  const name = info?.name ?? ""
  if (info?.ctrl === true) return ctrlKeys[name]
  if (info?.meta === true) return name === "b" ? { _tag: "WordLeft" } : name === "f" ? { _tag: "WordRight" } : name === "backspace" ? { _tag: "DeleteWordBefore" } : undefined
  const named = namedKeys[name]
  if (named !== undefined) return named
  if (text === undefined || text.length === 0) return undefined
  // Escape sequences (unknown function keys) and other control characters are not text.
  if (/[\u0000-\u001f\u007f]/.test(text)) return undefined
  return { _tag: "Text", text }
}

/** The input a keyboard reads from: `process.stdin`, or anything shaped like it. */
export type Input = NodeJS.ReadStream

/**
 * Starts reading: every key goes to `onKey`. Returns how to stop (restoring
 * the terminal's mode).
 */
export const listen = (input: Input, onKey: (key: Key) => void): (() => void) => {
  if (input.isTTY) {
    Readline.emitKeypressEvents(input)
    const onKeypress = (text: string | undefined, info: KeyInfo | undefined) => {
      const key = keyOf(text, info)
      if (key !== undefined) onKey(key)
    }
    input.setRawMode(true)
    input.on("keypress", onKeypress)
    input.resume()
    return () => {
      input.off("keypress", onKeypress)
      input.setRawMode(false)
      input.pause()
    }
  }
  const lines = Readline.createInterface({ input, terminal: false })
  lines.on("line", (text) => onKey({ _tag: "Line", text }))
  lines.on("close", () => onKey({ _tag: "EndOfInput" }))
  return () => lines.close()
}
