/**
 * How items, calls and their outcomes read on a terminal: blocks of lines,
 * each labelled by its author.
 *
 * @internal
 */
import * as ContextItem from "../../ContextItem.js"
import type { Line, Style } from "./text.js"
import { oneLine, wrap } from "./text.js"

/** The indentation of a block's body under its header. */
export const indent = "  "

/** A stable colour per author (an index into the six ANSI colours). */
export const colorOf = (author: string): number => {
  let hash = 0
  for (const char of author) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return hash % 6
}

/** A block's first line: its author and what it is. */
export const header = (author: string, what?: string, whatStyle: Style = "dim"): Line => [
  { text: author, style: "label", color: colorOf(author) },
  ...(what === undefined ? [] : [{ text: ` · ${what}`, style: whatStyle }])
]

/** Text wrapped under a header, one style. */
export const body = (text: string, width: number, style: Style): Array<Line> =>
  wrap(text, width, indent).map((row) => [{ text: row, style }])

/** A status line under a block: a mark, then text, wrapped. */
export const status = (text: string, width: number, style: Style): Array<Line> =>
  wrap(text, width, indent).map((row) => [{ text: row, style }])

const maxArgumentLines = 24

/**
 * A call's arguments for people: one `key: value` per entry, multi-line
 * strings as an indented block. Arguments that are not a JSON object are
 * shown as they are.
 */
export const formatArguments = (raw: string): Array<string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return [`(arguments are not JSON) ${oneLine(raw, 200)}`]
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return [oneLine(raw, 200)]
  const lines: Array<string> = []
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === "string" && value.includes("\n")) {
      lines.push(`${key}:`)
      const rows = value.replace(/\n$/, "").split("\n")
      for (const row of rows.slice(0, maxArgumentLines)) lines.push(`  │ ${row}`)
      if (rows.length > maxArgumentLines) lines.push(`  │ … (${rows.length - maxArgumentLines} more lines)`)
    } else {
      lines.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    }
  }
  return lines.length === 0 ? ["(no arguments)"] : lines
}

/** A call's arguments, wrapped under its header. */
export const argumentLines = (raw: string, width: number): Array<Line> =>
  formatArguments(raw).flatMap((line) => body(line, width, "plain"))

/** What a reasoning item says (summary, then content). */
export const reasoningText = (item: ContextItem.Reasoning): string =>
  [...item.summary.map((part) => part.text), ...item.content.map((part) => part.text)].join("\n")

/** The first line of a tool's output, and how many more it has. */
export const outcome = (output: ContextItem.FunctionCallOutput): string => {
  const lines = ContextItem.text(output).split("\n").filter((line) => line.trim() !== "")
  const more = lines.length > 1 ? ` (+${lines.length - 1} more lines)` : ""
  return `${oneLine(lines[0] ?? "(no output)", 140)}${more}`
}
