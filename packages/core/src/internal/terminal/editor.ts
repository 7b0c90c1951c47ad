/**
 * The input line: a pure line editor with history, and what a submitted line
 * means for the question being asked.
 *
 * @internal
 */
import * as InputStream from "../../InputStream.js"
import type { Prompt } from "./view.js"

/** A key the editor handles. */
export type Key =
  | { readonly _tag: "Text"; readonly text: string }
  | {
    readonly _tag:
      | "Enter"
      | "Backspace"
      | "Delete"
      | "Left"
      | "Right"
      | "Home"
      | "End"
      | "Up"
      | "Down"
      | "WordLeft"
      | "WordRight"
      | "DeleteWordBefore"
      | "ClearBefore"
      | "ClearAfter"
      | "CtrlC"
      | "CtrlD"
  }
  /** A whole line (input that is not a terminal). */
  | { readonly _tag: "Line"; readonly text: string }
  /** The input ended. */
  | { readonly _tag: "EndOfInput" }

/** The line being typed, where the cursor is, and the lines typed before. */
export interface Editor {
  /** Characters (code points), so the cursor never splits one. */
  readonly chars: ReadonlyArray<string>
  readonly cursor: number
  readonly history: ReadonlyArray<string>
  /** The history entry shown (history.length: the line being typed). */
  readonly recalled: number
  /** What was typed before walking the history. */
  readonly draft: ReadonlyArray<string>
}

export const empty: Editor = { chars: [], cursor: 0, history: [], recalled: 0, draft: [] }

/** The text of the line. */
export const text = (editor: Editor): string => editor.chars.join("")

const set = (editor: Editor, chars: ReadonlyArray<string>, cursor: number): Editor => ({
  ...editor,
  chars,
  cursor: Math.max(0, Math.min(cursor, chars.length))
})

const isSpace = (char: string | undefined) => char === undefined || /\s/.test(char)

const wordStart = (chars: ReadonlyArray<string>, from: number): number => {
  let at = from
  while (at > 0 && isSpace(chars[at - 1])) at--
  while (at > 0 && !isSpace(chars[at - 1])) at--
  return at
}

const wordEnd = (chars: ReadonlyArray<string>, from: number): number => {
  let at = from
  while (at < chars.length && isSpace(chars[at])) at++
  while (at < chars.length && !isSpace(chars[at])) at++
  return at
}

const recall = (editor: Editor, index: number): Editor => {
  if (index < 0 || index > editor.history.length || index === editor.recalled) return editor
  const draft = editor.recalled === editor.history.length ? editor.chars : editor.draft
  const chars = index === editor.history.length ? draft : Array.from(editor.history[index] ?? "")
  return { ...editor, chars, cursor: chars.length, recalled: index, draft }
}

/** The editor after an editing key (Enter and the control keys are the terminal's). */
export const edit = (editor: Editor, key: Key): Editor => {
  const { chars, cursor } = editor
  switch (key._tag) {
    case "Text": {
      const typed = Array.from(key.text)
      return set(editor, [...chars.slice(0, cursor), ...typed, ...chars.slice(cursor)], cursor + typed.length)
    }
    case "Backspace":
      return cursor === 0 ? editor : set(editor, [...chars.slice(0, cursor - 1), ...chars.slice(cursor)], cursor - 1)
    case "Delete":
      return set(editor, [...chars.slice(0, cursor), ...chars.slice(cursor + 1)], cursor)
    case "Left":
      return set(editor, chars, cursor - 1)
    case "Right":
      return set(editor, chars, cursor + 1)
    case "Home":
      return set(editor, chars, 0)
    case "End":
      return set(editor, chars, chars.length)
    case "WordLeft":
      return set(editor, chars, wordStart(chars, cursor))
    case "WordRight":
      return set(editor, chars, wordEnd(chars, cursor))
    case "DeleteWordBefore": {
      const start = wordStart(chars, cursor)
      return set(editor, [...chars.slice(0, start), ...chars.slice(cursor)], start)
    }
    case "ClearBefore":
      return set(editor, chars.slice(cursor), 0)
    case "ClearAfter":
      return set(editor, chars.slice(0, cursor), cursor)
    case "Up":
      return recall(editor, editor.recalled - 1)
    case "Down":
      return recall(editor, editor.recalled + 1)
    default:
      return editor
  }
}

/** Takes the line: the editor is empty again, and the line joins the history (unless blank or a repeat). */
export const submit = (editor: Editor): { readonly editor: Editor; readonly line: string } => {
  const line = text(editor)
  const history = line.trim() === "" || editor.history[editor.history.length - 1] === line
    ? editor.history
    : [...editor.history, line]
  return { line, editor: { chars: [], cursor: 0, history, recalled: history.length, draft: [] } }
}

/** What a person's answer to an approval means. */
export type Approval =
  | { readonly _tag: "Approve" }
  | { readonly _tag: "Reject"; readonly reason: string | null }
  /** Not this call: do something else instead (the text tells the agent what). */
  | { readonly _tag: "Redirect"; readonly instead: string }

/**
 * Reads an approval answer: `y`/`yes` approves; `n`/`no` rejects, with the
 * rest of the line as the reason (`n too risky`); any other text rejects the
 * call and tells the agent what to do instead. A blank line is no answer.
 */
export const parseApproval = (line: string): Approval | undefined => {
  const text = line.trim()
  if (text === "") return undefined
  if (/^(y|yes|ok|approve)[.!]?$/i.test(text)) return { _tag: "Approve" }
  const rejection = /^(n|no|reject)\b[\s,.:;!-]*(.*)$/is.exec(text)
  if (rejection !== null) return { _tag: "Reject", reason: (rejection[2] ?? "").trim() === "" ? null : (rejection[2] ?? "").trim() }
  return { _tag: "Redirect", instead: text }
}

/** What a person's answer to an elicitation means; `undefined` when the line answers nothing. */
export const parseElicitation = (
  line: string,
  schema: Readonly<Record<string, unknown>>
): { readonly action: "accept" | "decline" | "cancel"; readonly content: Record<string, unknown> | null } | undefined => {
  const text = line.trim()
  if (text === "") return undefined
  if (/^decline$/i.test(text)) return { action: "decline", content: null }
  if (/^cancel$/i.test(text)) return { action: "cancel", content: null }
  if (text.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(text)
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
        ? { action: "accept", content: parsed as Record<string, unknown> }
        : undefined
    } catch {
      return undefined
    }
  }
  const properties = typeof schema.properties === "object" && schema.properties !== null ? schema.properties as Record<string, { readonly type?: unknown }> : {}
  const names = Object.keys(properties)
  const typed = (name: string, value: string): unknown => {
    const type = properties[name]?.type
    if (type === "number" || type === "integer") return value.trim() === "" ? value : Number(value)
    if (type === "boolean") return /^(true|yes|y)$/i.test(value) ? true : /^(false|no|n)$/i.test(value) ? false : value
    if (type === "array") return value.split("|").map((item) => item.trim())
    return value
  }
  // One field: the line is its value (so `no` can answer it); with several, a bare `n`/`no` declines.
  if (!text.includes("=") && names.length === 1 && names[0] !== undefined) return { action: "accept", content: { [names[0]]: typed(names[0], text) } }
  if (/^(no|n)$/i.test(text)) return { action: "decline", content: null }
  const content: Record<string, unknown> = {}
  for (const pair of text.split(/[,;](?=\s*[\w-]+\s*=)/)) {
    const at = pair.indexOf("=")
    if (at < 0) return undefined
    const name = pair.slice(0, at).trim()
    content[name] = typed(name, pair.slice(at + 1).trim())
  }
  return { action: "accept", content }
}

/** The input a submitted line gives under a prompt, or `undefined` when it answers nothing (ask again). */
export const reply = (prompt: Exclude<Prompt, { readonly _tag: "Elicitation" }>, line: string): InputStream.Input | undefined => {
  if (prompt._tag === "Question") {
    return line.trim() === "" ? undefined : new InputStream.Answer({ callId: prompt.callId, answer: line.trim() })
  }
  const answer = parseApproval(line)
  if (answer === undefined) return undefined
  switch (answer._tag) {
    case "Approve":
      return new InputStream.Approval({ callId: prompt.callId, approved: true, reason: null })
    case "Reject":
      return new InputStream.Approval({ callId: prompt.callId, approved: false, reason: answer.reason })
    case "Redirect":
      return new InputStream.Approval({ callId: prompt.callId, approved: false, reason: `instead: ${answer.instead}` })
  }
}
