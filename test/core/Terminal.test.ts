// The library's terminal: the screen model folded from real environment events (two agents streaming at once, tool
// calls, approvals, queued messages), the TTY edge on an emulated terminal, the line editor, and piped input.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { PassThrough } from "node:stream"
import { ContextItem, Environment, Event, Human, InputStream, ScriptedModel, Terminal, Tool, Toolkit } from "@chorus/core"
import { events, joinAgent, joinHuman, runEnded, runEndedAdvancing } from "../support/agents.js"

const poem = "Streams of small words arrive, each one as soon as it is written, and nobody has to wait for the end of the answer."
const critique = "And nobody waits for the whole answer before reading the first word, which is the point of streaming everything at once."

/** Two agents answering one message at once, word by word, at different paces (on the TestClock). */
const twoAgentsAtOnce = Effect.gen(function*() {
  yield* joinAgent({ id: "poet" }, { turns: [[ScriptedModel.text(poem)]], latency: "60 millis" })
  yield* joinAgent({ id: "critic" }, { turns: [[ScriptedModel.text(critique)]], latency: "45 millis" })
  yield* Human.say("you", "Say something about streaming.")
  yield* Effect.fork(runEndedAdvancing("poet"))
  yield* runEndedAdvancing("critic")
  yield* runEndedAdvancing("poet")
  return yield* events
})

const plainLines = (lines: ReadonlyArray<ReadonlyArray<{ readonly text: string }>>) => lines.map((line) => line.map((span) => span.text).join(""))

/** The blocks of rendered lines: a header line (no indent) and its indented body, joined. */
const blocks = (lines: ReadonlyArray<string>) => {
  const found: Array<{ header: string; body: string }> = []
  for (const line of lines) {
    if (!line.startsWith(" ")) found.push({ header: line, body: "" })
    else if (found.length > 0) found[found.length - 1]!.body += ` ${line.trim()}`
  }
  return found.map((block) => ({ ...block, body: block.body.trim() }))
}

const callFields = { id: "c1", author: "assistant", status: "completed" as const, callId: "call-1", name: "write_file" }

const wordsOf = (text: string) => new Set(text.split(/\s+/).filter((word) => word !== ""))

describe("Terminal", () => {
  it.effect("two agents streaming at once: each block holds only its author's words, in order, wrapped at 70 columns", () =>
    Effect.gen(function*() {
      const all = yield* twoAgentsAtOnce
      // The deltas really interleave.
      const deltaAuthors = all.filter((event) => event.payload._tag === "TextDelta").map((event) => event.author)
      assert.isAbove(deltaAuthors.filter((author, i) => i > 0 && author !== deltaAuthors[i - 1]).length, 5)

      let view = Terminal.initial({ width: 70, human: "you" })
      const committed: Array<string> = []
      for (const event of all) {
        const update = Terminal.update(view, event)
        view = update.view
        committed.push(...plainLines(update.commit))
        // Every frame of the live region: each block is a prefix of its own text, never a word of the other.
        for (const block of blocks(plainLines(Terminal.live(view, 40)))) {
          if (block.body.startsWith("…")) continue
          const own = block.header === "poet" ? poem : critique
          assert.isTrue(own.startsWith(block.body), `live ${block.header}: "${block.body}"`)
        }
      }
      const finished = blocks(committed)
      assert.deepStrictEqual(finished.map((block) => block.header).sort(), ["critic", "poet", "you"])
      assert.strictEqual(finished.find((block) => block.header === "poet")?.body, poem)
      assert.strictEqual(finished.find((block) => block.header === "critic")?.body, critique)
      // Wrapped at word boundaries: no row is wider than 70, and every row holds whole words of its text.
      for (const line of committed) {
        assert.isAtMost(Array.from(line).length, 70, line)
        const source = wordsOf(`${poem} ${critique} you poet critic Say something about streaming.`)
        for (const word of line.split(/\s+/).filter((w) => w !== "")) assert.isTrue(source.has(word), `"${word}" in "${line}"`)
      }
      assert.isAbove(committed.length, 5, "the answers did wrap")
      // The same through render (what a pipe receives).
      assert.strictEqual(Terminal.render(all, { width: 70 }), committed.join("\n"))
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("on an emulated 71-column terminal the screen ends with both answers whole, each under its label", () =>
    Effect.gen(function*() {
      const all = yield* twoAgentsAtOnce
      const written: Array<string> = []
      // The same events, published again into an environment of their own, reach a terminal drawing on a TTY.
      yield* Effect.gen(function*() {
        const terminal = yield* Terminal.make({
          output: { write: (chunk: string) => written.push(chunk), isTTY: true, columns: 71, rows: 30 },
          history: false
        })
        const env = yield* Environment.Environment
        yield* env.join(terminal.renderer)
        for (const event of all) yield* env.publish(event.author, event.payload)
        yield* TestClock.adjust("1 second")
        yield* terminal.close
      }).pipe(Effect.provide(Environment.layerMemory()))
      const screen = emulate(written.join(""), 71)
      for (const line of screen) assert.isAtMost(line.length, 70)
      const shown = blocks(screen.filter((line) => line.trim() !== ""))
      assert.includeDeepMembers(shown.filter((block) => block.header !== "you"), [
        { header: "poet", body: poem },
        { header: "critic", body: critique }
      ])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a tool call shows its arguments once, formatted; a rejection shows the person's reason, not the model's text", () =>
    Effect.gen(function*() {
      const write = Tool.make("write_file", {
        description: "",
        parameters: Schema.Struct({ path: Schema.String, content: Schema.String }),
        approval: "always",
        handler: () => Effect.succeed("written")
      })
      yield* joinAgent({ id: "assistant" }, {
        turns: [[ScriptedModel.functionCall("write_file", { path: "hello.py", content: "print(1)\nprint(2)\n" })], [ScriptedModel.text("Understood.")]]
      }, Toolkit.make(write).layer)
      const you = yield* joinHuman("you")
      yield* you.offer(InputStream.message("write it"))
      const env = yield* Environment.Environment
      const asked = yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
      const callId = (asked.payload as Event.ApprovalRequested).callId
      yield* you.offer(new InputStream.Approval({ callId, approved: false, reason: "too risky" }))
      yield* runEnded("assistant")
      const text = Terminal.render(yield* events, { width: 70 })
      assert.include(text, "assistant · ⚙ write_file\n  path: hello.py\n  content:\n    │ print(1)\n    │ print(2)")
      assert.notInclude(text, `{"path"`)
      assert.notInclude(text, "\\n")
      assert.strictEqual(text.split("path: hello.py").length, 2, "the arguments show once")
      assert.include(text, "? write_file waits for your approval")
      assert.include(text, "✗ write_file rejected by you: too risky")
      assert.notInclude(text, "Do not retry", "the model-facing rejection text is not shown to the person")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a message sent while the agent works is shown queued until the agent takes it", () =>
    Effect.gen(function*() {
      yield* joinAgent({ id: "assistant" }, {
        turns: [[ScriptedModel.text("one two three four five six")], [ScriptedModel.text("second answer")]],
        latency: "100 millis"
      })
      const you = yield* joinHuman("you")
      const env = yield* Environment.Environment
      yield* you.offer(InputStream.message("first"))
      yield* TestClock.adjust("250 millis")
      yield* you.offer(InputStream.message("and then this"))
      yield* env.waitFor((event) => event.payload._tag === "InputQueued")
      let view = Terminal.initial({ width: 70, human: "you" })
      for (const event of yield* events) view = Terminal.update(view, event).view
      assert.include(plainLines(Terminal.live(view, 20)), "  ⧗ queued for assistant: and then this")
      yield* runEndedAdvancing("assistant", 2)
      let after = Terminal.initial({ width: 70, human: "you" })
      for (const event of yield* events) after = Terminal.update(after, event).view
      assert.deepStrictEqual(plainLines(Terminal.live(after, 20)), [])
      assert.include(Terminal.render(yield* events, { width: 70 }), "(queued for assistant")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("what a model or a tool says never reaches the terminal as a control sequence", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const terminal = yield* Terminal.make({ output: { write: (chunk: string) => written.push(chunk), isTTY: true, columns: 80, rows: 24 }, history: false })
      const env = yield* Environment.Environment
      yield* env.join(terminal.renderer)
      const item = ContextItem.modelText({ id: "m1", author: "assistant", text: "ok \x1b[2J\x1b[H\x1b]0;pwned\x07gone\u009b31m\r\n\tdone\u0000" })
      yield* env.publish("assistant", new Event.ItemDone({ item, runId: null, to: [], policy: null }))
      yield* env.publish("assistant", new Event.ItemDone({ item: new ContextItem.FunctionCall({ ...callFields, arguments: "{\"path\": \"a.py\"" }), runId: null, to: [], policy: null }))
      yield* TestClock.adjust("1 second")
      const out = written.join("")
      // Only our own sequences: styles, clear to end of screen, cursor up and right.
      assert.notInclude(out.replace(/\x1b\[(?:[0-9;]*m|J|[0-9]+A|[0-9]+C)/g, ""), "\x1b")
      for (const control of ["\x07", "\u009b", "\u0000"]) assert.notInclude(out, control)
      assert.include(out, "ok [2J[H]0;pwnedgone31m\r\n    done")
      assert.include(out, `(arguments are not JSON) {"path": "a.py"`)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an MCP elicitation is a prompt: a bad value is refused with the reason, name=value pairs answer it", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const written: Array<string> = []
      const terminal = yield* Terminal.make({ output: { write: (chunk: string) => written.push(chunk) }, history: false })
      yield* env.join(terminal.renderer)
      const requestedSchema = {
        type: "object",
        properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
        required: ["name", "age"]
      }
      yield* env.publish("mcp", new Event.ElicitationRequested({ elicitationId: "e1", callId: null, server: "everything", message: "Who are you?", requestedSchema }))
      yield* terminal.key({ _tag: "Line", text: "name=Ada, age=many" })
      yield* terminal.key({ _tag: "Line", text: "name=Ada, age=36" })
      const answered = yield* env.waitFor((event) => event.payload._tag === "ElicitationAnswered")
      assert.strictEqual(answered.author, "you")
      assert.deepStrictEqual((answered.payload as Event.ElicitationAnswered).content, { name: "Ada", age: 36 })
      assert.strictEqual((answered.payload as Event.ElicitationAnswered).action, "accept")
      const out = written.join("")
      assert.include(out, "everything · asks you\n  Who are you?\n  fields: name (string, required), age (integer, required)")
      assert.include(out, "try again")
      assert.deepStrictEqual(Terminal.parseElicitation("decline", requestedSchema), { action: "decline", content: null })
      assert.deepStrictEqual(Terminal.parseElicitation("{\"name\":\"Bo\",\"age\":3}", requestedSchema), { action: "accept", content: { name: "Bo", age: 3 } })
      assert.isUndefined(Terminal.parseElicitation("just words", requestedSchema))
      // A refusal reads as one sentence: the form's message loses its full stop before "; try again."
      assert.notInclude(out, ".; try again")
      assert.include(out, "The answer does not fit the form: \"age\" must be a number; try again.\n")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it("a one-field form takes \"no\" as its value; with several fields a bare no declines", () => {
    const oneBoolean = { type: "object", properties: { proceed: { type: "boolean" } } }
    const oneString = { type: "object", properties: { answer: { type: "string" } } }
    const two = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } } }
    assert.deepStrictEqual(Terminal.parseElicitation("no", oneBoolean), { action: "accept", content: { proceed: false } })
    assert.deepStrictEqual(Terminal.parseElicitation("n", oneBoolean), { action: "accept", content: { proceed: false } })
    assert.deepStrictEqual(Terminal.parseElicitation("No", oneString), { action: "accept", content: { answer: "No" } })
    assert.deepStrictEqual(Terminal.parseElicitation("decline", oneBoolean), { action: "decline", content: null })
    assert.deepStrictEqual(Terminal.parseElicitation("no", two), { action: "decline", content: null })
    assert.deepStrictEqual(Terminal.parseElicitation("cancel", oneString), { action: "cancel", content: null })
  })

  it("approval answers: y approves, n takes a reason, other text redirects, blank asks again", () => {
    assert.deepStrictEqual(Terminal.parseApproval("y"), { _tag: "Approve" })
    assert.deepStrictEqual(Terminal.parseApproval(" Yes "), { _tag: "Approve" })
    assert.deepStrictEqual(Terminal.parseApproval("n"), { _tag: "Reject", reason: null })
    assert.deepStrictEqual(Terminal.parseApproval("no, too risky"), { _tag: "Reject", reason: "too risky" })
    assert.deepStrictEqual(Terminal.parseApproval("n it overwrites my file"), { _tag: "Reject", reason: "it overwrites my file" })
    assert.deepStrictEqual(Terminal.parseApproval("write to notes.md instead"), { _tag: "Redirect", instead: "write to notes.md instead" })
    assert.deepStrictEqual(Terminal.parseApproval("nothing yet, list the files first"), { _tag: "Redirect", instead: "nothing yet, list the files first" })
    assert.isUndefined(Terminal.parseApproval("   "))
  })

  it("the line editor: insert mid-line, words, clear, and history with the draft kept", () => {
    const type = (editor: Terminal.Editor, text: string) => Terminal.edit(editor, { _tag: "Text", text })
    const key = (editor: Terminal.Editor, ...tags: Array<Exclude<Terminal.Key["_tag"], "Text" | "Line">>) =>
      tags.reduce((e, _tag) => Terminal.edit(e, { _tag } as Terminal.Key), editor)
    const line = (editor: Terminal.Editor) => editor.chars.join("")
    let editor = type(Terminal.emptyEditor, "hello world")
    editor = type(key(editor, "WordLeft"), "big ")
    assert.strictEqual(line(editor), "hello big world")
    editor = key(editor, "DeleteWordBefore")
    assert.strictEqual(line(editor), "hello world")
    editor = key(editor, "Home", "Delete")
    assert.strictEqual(line(editor), "ello world")
    editor = key(editor, "End", "Backspace", "Backspace", "Left", "ClearAfter")
    assert.strictEqual(line(editor), "ello wo")
    // History: lines typed before come back with Up; Down returns to the draft.
    const withHistory: Terminal.Editor = { ...Terminal.emptyEditor, history: ["first", "second"], recalled: 2 }
    const drafted = type(withHistory, "draft")
    assert.strictEqual(line(key(drafted, "Up")), "second")
    assert.strictEqual(line(key(drafted, "Up", "Up")), "first")
    assert.strictEqual(line(key(drafted, "Up", "Up", "Up")), "first")
    assert.strictEqual(line(key(drafted, "Up", "Up", "Down", "Down")), "draft")
    // Characters outside the BMP are one character to the cursor.
    assert.strictEqual(line(key(type(Terminal.emptyEditor, "a😀"), "Backspace")), "a")
  })

  it("keys from readline: arrows, control keys, text; escape sequences are not text", () => {
    assert.deepStrictEqual(Terminal.keyOf(undefined, { name: "up" }), { _tag: "Up" })
    assert.deepStrictEqual(Terminal.keyOf("\x03", { name: "c", ctrl: true }), { _tag: "CtrlC" })
    assert.deepStrictEqual(Terminal.keyOf("\x17", { name: "w", ctrl: true }), { _tag: "DeleteWordBefore" })
    assert.deepStrictEqual(Terminal.keyOf("é", { name: undefined }), { _tag: "Text", text: "é" })
    assert.isUndefined(Terminal.keyOf("\x1b[25~", { name: "f13" }))
  })

  it.live("piped input: the terminal is done only after the agent has answered", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const input = new PassThrough()
      const written: Array<string> = []
      const terminal = yield* Terminal.make({ input: input as unknown as NodeJS.ReadStream, output: { write: (chunk: string) => written.push(chunk) }, settle: 50 })
      yield* env.join(terminal.renderer)
      yield* joinAgent({ id: "assistant" }, { turns: [[ScriptedModel.text("a slow answer that takes a while to arrive")]], latency: "20 millis" })
      yield* env.join(Human.make({ id: "you" })).pipe(Effect.provide(terminal.layer))
      yield* terminal.keyboard
      input.end("hello\n")
      yield* terminal.done
      const out = written.join("")
      assert.include(out, "you\n  hello\n")
      assert.include(out, "assistant\n  a slow answer that takes a while to arrive\n")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())), { timeout: 20_000 })
})

/** A small terminal: CR, LF, cursor up, cursor right, clear to end of screen; styles ignored; no autowrap needed. */
const emulate = (written: string, width: number): Array<string> => {
  const rows: Array<Array<string>> = [[]]
  let row = 0
  let column = 0
  for (let i = 0; i < written.length; i++) {
    const char = written[i]!
    if (char === "\x1b") {
      const sequence = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(written.slice(i))
      if (sequence === null) throw new Error(`unexpected escape at ${i}`)
      i += sequence[0].length - 1
      const [, argument, command] = sequence
      const n = Number(argument || 1)
      if (command === "A") row = Math.max(0, row - n)
      else if (command === "C") column = Math.min(width - 1, column + n)
      else if (command === "J") {
        rows[row] = (rows[row] ?? []).slice(0, column)
        rows.length = row + 1
      }
      continue
    }
    if (char === "\r") column = 0
    else if (char === "\n") {
      row++
      rows[row] ??= []
    } else {
      if (column >= width) throw new Error(`row ${row} overflows ${width} columns`)
      ;(rows[row] ??= [])[column++] = char
    }
  }
  return rows.map((cells) => Array.from(cells, (cell) => cell ?? " ").join(""))
}
