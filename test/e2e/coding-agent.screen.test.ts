// The demo's terminal screen and keyboard parsing, on a recorded output: what the model or a file says never
// reaches the terminal as a control sequence, and the input line stays one row below the output.
import { assert, describe, it } from "@effect/vitest"
import * as Screen from "../../examples/coding-agent/Screen.js"
import * as Terminal from "../../examples/coding-agent/Terminal.js"

const recorder = (columns: number, isTTY = true) => {
  const chunks: Array<string> = []
  return { chunks, output: { write: (chunk: string) => chunks.push(chunk), isTTY, columns } }
}

// Our own sequences: SGR styles, clear line, cursor up, cursor to column.
const ours = /\x1b\[(?:[0-9;]*m|2K|1A|[0-9]+G)/g

/** A small terminal: CR, LF, autowrap at the last column, clear line, cursor up, cursor to column; styles ignored. */
const emulate = (written: string, width: number): Array<string> => {
  const rows: Array<Array<string>> = [[]]
  let row = 0
  let column = 0
  const at = (r: number) => (rows[r] ??= [])
  for (let i = 0; i < written.length; i++) {
    const char = written[i]!
    if (char === "\x1b") {
      const sequence = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(written.slice(i))
      if (sequence === null) throw new Error(`unexpected escape at ${i}`)
      i += sequence[0].length - 1
      const [, argument, command] = sequence
      if (command === "K") rows[row] = []
      else if (command === "A") row = Math.max(0, row - Number(argument || 1))
      else if (command === "G") column = Math.min(width - 1, Number(argument || 1) - 1)
      continue
    }
    if (char === "\r") column = 0
    else if (char === "\n") at(++row)
    else {
      if (column >= width) {
        row++
        column = 0
      }
      at(row)[column++] = char
    }
  }
  return rows.map((cells) => Array.from(cells, (cell) => cell ?? " ").join("").trimEnd())
}

describe("the coding agent's screen", () => {
  it("strips control sequences from outside text: a model cannot clear the screen or move the cursor", () => {
    const { chunks, output } = recorder(80)
    const screen = Screen.make(output)
    screen.print("ok \x1b[2J\x1b[H\x1b]0;pwned\x07gone\u009b31m\r\n\tdone\u0000", Screen.Style.plain)
    const written = chunks.join("")
    assert.notInclude(written.replace(ours, ""), "\x1b")
    assert.notInclude(written, "\x07")
    assert.notInclude(written, "\u009b")
    assert.notInclude(written, "\u0000")
    assert.include(written, "ok [2J[H]0;pwnedgone31m\r\n  done")
  })

  it("wraps itself one column short of the width, at word boundaries, and keeps the input line below the output", () => {
    const { chunks, output } = recorder(30)
    const screen = Screen.make(output)
    screen.input("you> ", "")
    const words = "streaming words arrive one by one while the person types below".split(" ")
    for (const word of words) {
      screen.print(`${word} `)
      screen.input("you> ", word.slice(0, 2))
    }
    const rows = emulate(chunks.join(""), 30)
    // The terminal shows the words wrapped whole, in rows that never reach the last column, then the input line.
    assert.strictEqual(rows.at(-1), "you> be")
    const text = rows.slice(0, -1)
    for (const row of text) assert.isAtMost(row.length, 29, JSON.stringify(row))
    assert.strictEqual(text.join(" "), words.join(" "))
    assert.isAbove(text.length, 1)
  })

  it("writes plain text without an input line when the output is not a terminal", () => {
    const { chunks, output } = recorder(30, false)
    const screen = Screen.make(output)
    screen.input("you> ", "typing")
    screen.print("assistant> ", Screen.Style.boldCyan)
    screen.print("hello")
    screen.newline()
    screen.line("done", Screen.Style.dim)
    assert.strictEqual(chunks.join(""), "assistant> hello\ndone\n")
  })
})

describe("the coding agent's keyboard", () => {
  it("reads approvals strictly: y/yes and n/no, anything else is no answer", () => {
    assert.isTrue(Terminal.parseApproval(" Y "))
    assert.isTrue(Terminal.parseApproval("yes"))
    assert.isFalse(Terminal.parseApproval("n"))
    assert.isFalse(Terminal.parseApproval("NO"))
    for (const garbage of ["", "maybe", "yy", "y n", "ja", "\u0003"]) assert.isUndefined(Terminal.parseApproval(garbage))
  })

  it("turns keypresses into keys: Ctrl-C is a key, escape sequences are not text", () => {
    assert.deepStrictEqual(Terminal.keyOf("\u0003", { name: "c", ctrl: true }), { _tag: "CtrlC" })
    assert.deepStrictEqual(Terminal.keyOf("\r", { name: "return" }), { _tag: "Enter" })
    assert.deepStrictEqual(Terminal.keyOf("é", { name: undefined }), { _tag: "Text", text: "é" })
    assert.isUndefined(Terminal.keyOf("\x1b[A", { name: "up" }))
    assert.isUndefined(Terminal.keyOf("\x1b", { name: "escape", meta: true }))
  })

  it("shows a call's arguments as lines, and says so when they are not JSON", () => {
    assert.deepStrictEqual(Terminal.formatArguments(JSON.stringify({ path: "a.py", content: "x = 1\nprint(x)\n" })), [
      "path: a.py",
      "content:",
      "  │ x = 1",
      "  │ print(x)"
    ])
    assert.deepStrictEqual(Terminal.formatArguments("{\"path\": \"a.py\""), ["(arguments are not JSON) {\"path\": \"a.py\""])
  })
})
