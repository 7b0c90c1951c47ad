/**
 * The terminal side of the coding agent: a renderer that shows the
 * environment as it happens, and a keyboard that turns what a person types
 * into human input.
 *
 * **Renderer** — an observer participant that replays the journal first: it
 * prints the earlier conversation (the journal's transcript) once, then every
 * live event as it comes — the answer word by word, reasoning dimmed, each
 * tool call with its arguments as they stream and then its status, messages
 * queued while the agent works, `[stopped]` after a stop. A call waiting for
 * approval is shown with its arguments and the prompt becomes
 * `approve? [y/n]`; after a restart, pending approvals are asked again.
 *
 * **Keyboard** — raw-mode stdin, read key by key (so Ctrl-C is a key, not a
 * signal). A line is a message (queued by the agent when it is busy), an
 * approval answer when one is asked (`y`/`n`; anything else asks again), or
 * `/quit`. Ctrl-C stops the agent's current run and keeps its partial answer;
 * Ctrl-C when the agent is idle, or twice in a row, leaves. Everything reaches
 * the environment through an `InputStream` queue read by a `Human`.
 *
 * @since 0.1.0
 */
import { Activity, Commands, ContextItem, InputStream, Reducer } from "@chorus/core"
import type { Event, Participant } from "@chorus/core"
import { Deferred, Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"
import * as Readline from "node:readline"
import type * as Screen from "./Screen.js"
import { Style } from "./Screen.js"

/** Options of the terminal. */
export interface Options {
  readonly screen: Screen.Screen
  /** The agent's participant id (what Ctrl-C stops). */
  readonly agent: string
  /** The person's participant id. */
  readonly human: string
  /** The renderer's participant id. Default `terminal`. */
  readonly id?: string | undefined
}

/** What a person does at the keyboard. */
export type Key =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Enter" }
  | { readonly _tag: "Backspace" }
  | { readonly _tag: "ClearLine" }
  | { readonly _tag: "CtrlC" }
  | { readonly _tag: "CtrlD" }
  /** A whole line (when stdin is not a terminal). */
  | { readonly _tag: "Line"; readonly text: string }
  /** Stdin ended. */
  | { readonly _tag: "End" }

/** The terminal: its renderer participant, the human input it produces, and how it ends. */
export interface Terminal {
  /** Join it to the environment before the agent, so it sees the agent's resume. */
  readonly renderer: Participant.Participant
  /** What the person does, for `InputStream.layerQueue` under a `Human`. */
  readonly input: Queue.Queue<InputStream.Input>
  /** Handles one key (the keyboard feeds it; exposed for other input sources). */
  readonly key: (key: Key) => Effect.Effect<void>
  /** Reads stdin, in raw mode when it is a terminal, until the scope closes (then restores it). */
  readonly keyboard: Effect.Effect<void, never, Scope.Scope>
  /** Completes when the person leaves (`/quit`, Ctrl-C while idle, Ctrl-C twice, Ctrl-D, end of input). */
  readonly quit: Deferred.Deferred<void>
}

/** The prompt for a message. */
export const messagePrompt = (human: string) => `${human}> `

/** The prompt for a message while the agent works (the message will wait in its queue). */
export const busyPrompt = (agent: string, human: string) => `[${agent} is working · Ctrl-C stops it] ${human}> `

/** The prompt for an approval. */
export const approvalPrompt = "approve? [y/n] "

/** The answer an approval line gives: approve, reject, or neither. */
export const parseApproval = (line: string): boolean | undefined => {
  const answer = line.trim().toLowerCase()
  if (answer === "y" || answer === "yes") return true
  if (answer === "n" || answer === "no") return false
  return undefined
}

/** The key a readline `keypress` is, if it is one the terminal handles. */
export const keyOf = (
  text: string | undefined,
  key: { readonly name?: string | undefined; readonly ctrl?: boolean | undefined; readonly meta?: boolean | undefined } | undefined
): Key | undefined => {
  if (key?.ctrl === true) {
    switch (key.name) {
      case "c":
        return { _tag: "CtrlC" }
      case "d":
        return { _tag: "CtrlD" }
      case "u":
        return { _tag: "ClearLine" }
      default:
        return undefined
    }
  }
  if (key?.name === "return" || key?.name === "enter") return { _tag: "Enter" }
  if (key?.name === "backspace") return { _tag: "Backspace" }
  if (key?.meta === true || text === undefined || text.length === 0) return undefined
  // Escape sequences (arrows, function keys) and other control characters are not text.
  if (/[\u0000-\u001f\u007f]/.test(text)) return undefined
  return { _tag: "Text", text }
}

const oneLine = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const reasoningText = (item: ContextItem.Reasoning): string =>
  [...item.summary.map((part) => part.text), ...item.content.map((part) => part.text)].join("\n")

/** The text an item shows while it streams (what its deltas add up to). */
const streamedText = (item: ContextItem.ContextItem): string =>
  item._tag === "Reasoning" ? reasoningText(item) : ContextItem.text(item)

const maxArgumentLines = 24

/** A call's arguments, one `key: value` per line, multi-line strings as indented blocks. */
export const formatArguments = (raw: string): ReadonlyArray<string> => {
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
      const body = value.replace(/\n$/, "").split("\n")
      for (const line of body.slice(0, maxArgumentLines)) lines.push(`  │ ${line}`)
      if (body.length > maxArgumentLines) lines.push(`  │ … (${body.length - maxArgumentLines} more lines)`)
    } else {
      lines.push(`${key}: ${typeof value === "string" ? value : oneLine(JSON.stringify(value), 200)}`)
    }
  }
  return lines
}

/**
 * Makes the terminal.
 *
 * @example
 * import { Effect } from "effect"
 * import { Environment, Human, InputStream } from "@chorus/core"
 * import * as Screen from "./Screen.js"
 * import * as Terminal from "./Terminal.js"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const terminal = yield* Terminal.make({ screen: Screen.make(process.stdout), agent: "assistant", human: "you" })
 *   yield* env.join(terminal.renderer)
 *   yield* env.join(Human.make({ id: "you" })).pipe(Effect.provide(InputStream.layerQueue(terminal.input)))
 *   yield* terminal.keyboard
 *   yield* Deferred.await(terminal.quit)
 * })
 */
export const make = (options: Options): Effect.Effect<Terminal> =>
  Effect.gen(function*() {
    const { agent, human, screen } = options
    const input = yield* Queue.unbounded<InputStream.Input>()
    const quit = yield* Deferred.make<void>()

    // --- state shared by the renderer and the keyboard (only touched in synchronous steps) ---------
    let activity = Activity.reducer.initial
    let commands = Commands.reducer.initial
    /** The call whose approval the prompt asks for. */
    let asking: string | null = null
    /** Calls answered here, until the agent confirms. */
    const answered = new Set<string>()
    /**
     * Approvals pending in the journal when the program started: asked once the agent has resumed the run
     * that waits for them (it says so by entering `awaiting-approval`), so an answer never comes too early.
     */
    const resumedApprovals = new Set<string>()
    let agentResumed = false
    let typed = ""
    let ctrlC = 0

    const busy = () => Activity.canInterrupt(activity, agent)

    const redraw = () => {
      if (asking !== null) return screen.input(approvalPrompt, typed, Style.boldYellow)
      if (busy()) return screen.input(busyPrompt(agent, human), typed, Style.green)
      return screen.input(messagePrompt(human), typed, Style.boldGreen)
    }

    // --- rendering -----------------------------------------------------------------------------
    /** The item the output stopped in (mid-line), if any. */
    let cursor: string | null = null
    /** Items streaming now: what has been printed of each. */
    const open = new Map<string, { readonly item: ContextItem.ContextItem; printed: string }>()
    const callNames = new Map<string, string>()
    /** Calls whose outcome was printed already (rejected, failed, cancelled). */
    const settled = new Set<string>()
    /** Runs that showed `[stopped]` already. */
    const stopped = new Set<string>()
    const userTexts = new Map<string, string>()

    const statusLine = (text: string, style: Screen.Style) => {
      cursor = null
      screen.line(text, style)
    }

    const header = (item: ContextItem.ContextItem, continued: boolean) => {
      screen.newline()
      const more = continued ? "… " : ""
      switch (item._tag) {
        case "ModelMessage":
          screen.print(`${item.author}> `, Style.boldCyan)
          if (continued) screen.print(more, Style.dim)
          return
        case "Reasoning":
          screen.print(`  thinking: ${more}`, Style.dim)
          return
        case "FunctionCall":
          screen.print(`  ⚙ ${item.name} `, Style.cyan)
          if (continued) screen.print(more, Style.dim)
          return
        case "UserMessage":
          screen.print(`${item.author}> `, Style.boldGreen)
          return
        default:
          return
      }
    }

    // Reasoning and arguments stay indented under their header; an answer keeps its own layout (code).
    const indented = (item: ContextItem.ContextItem, text: string) =>
      item._tag === "ModelMessage" ? text : text.replace(/\n/g, "\n    ")

    const bodyStyle = (item: ContextItem.ContextItem): Screen.Style =>
      item._tag === "ModelMessage" ? Style.plain : Style.dim

    /** Appends to an item's text, starting again under a header when something else was printed meanwhile. */
    const append = (item: ContextItem.ContextItem, text: string, style: Screen.Style) => {
      if (cursor !== item.id) header(item, true)
      cursor = item.id
      screen.print(indented(item, text), style)
    }

    /** Set by a Ctrl-C that stops a run: the `[stopped]` it causes says how to leave. */
    let stopHint = false

    const markStopped = (runId: string | null) => {
      screen.print(screen.afterSpace() ? "[stopped]" : " [stopped]", Style.boldYellow)
      if (stopHint) screen.print(" (Ctrl-C again to quit)", Style.dim)
      stopHint = false
      if (runId !== null) stopped.add(runId)
    }

    const outcomeLine = (output: ContextItem.FunctionCallOutput) => {
      if (settled.has(output.callId)) return
      settled.add(output.callId)
      const name = callNames.get(output.callId) ?? "call"
      const text = ContextItem.text(output)
      const lines = text.split("\n").filter((line) => line.trim() !== "")
      const more = lines.length > 1 ? ` (+${lines.length - 1} more lines)` : ""
      statusLine(
        `    ${output.isError ? "✗" : "✓"} ${name}: ${oneLine(lines[0] ?? "", 140)}${more}`,
        output.isError ? Style.red : Style.green
      )
    }

    /** Prints a finished item whole (history, or an item that was never streamed here). */
    const printItem = (item: ContextItem.ContextItem, runId: string | null) => {
      switch (item._tag) {
        case "SystemMessage":
        case "DeveloperMessage":
          return
        case "FunctionCallOutput":
          return outcomeLine(item)
        case "FunctionCall":
          callNames.set(item.callId, item.name)
          header(item, false)
          screen.print(item.arguments.length > 160 ? `${item.arguments.slice(0, 159)}…` : item.arguments, Style.dim)
          break
        case "UserMessage":
          userTexts.set(item.id, ContextItem.text(item))
          header(item, false)
          screen.print(ContextItem.text(item))
          break
        default:
          header(item, false)
          screen.print(indented(item, streamedText(item)), bodyStyle(item))
      }
      if (item.status === "incomplete") markStopped(runId)
      cursor = item.id
    }

    const ask = () => {
      if (asking !== null) return
      const next = Commands.pendingApprovals(commands).find((command) =>
        !answered.has(command.callId) && (agentResumed || !resumedApprovals.has(command.callId))
      )
      if (next === undefined) return
      asking = next.callId
      statusLine(`  ? ${next.name} wants your approval (y/n):`, Style.boldYellow)
      for (const line of formatArguments(next.arguments)) statusLine(`      ${line}`, Style.plain)
    }

    const settle = (callId: string) => {
      answered.delete(callId)
      if (asking === callId) asking = null
      ask()
    }

    const onItemAdded = (added: Event.ItemAdded) => {
      const item = added.item
      if (item._tag === "FunctionCall") callNames.set(item.callId, item.name)
      if (item._tag !== "ModelMessage" && item._tag !== "Reasoning" && item._tag !== "FunctionCall") return
      open.set(item.id, { item, printed: "" })
      header(item, false)
      cursor = item.id
    }

    const onDelta = (itemId: string, text: string, style?: Screen.Style) => {
      const entry = open.get(itemId)
      if (entry === undefined) return
      entry.printed += text
      append(entry.item, text, style ?? bodyStyle(entry.item))
    }

    const onItemDone = (done: Event.ItemDone) => {
      const item = done.item
      const entry = open.get(item.id)
      if (entry === undefined) {
        if (item._tag === "FunctionCallOutput" && item.author !== agent) return
        printItem(item, done.runId)
        return
      }
      open.delete(item.id)
      const full = streamedText(item)
      // What was not streamed (a provider may send the whole item at the end).
      if (full.startsWith(entry.printed) && full.length > entry.printed.length) {
        append(item, full.slice(entry.printed.length), bodyStyle(item))
      }
      if (item.status === "incomplete") {
        if (cursor !== item.id) {
          header(item, true)
          cursor = item.id
        }
        markStopped(done.runId)
      }
      screen.newline()
      cursor = null
    }

    const live = (event: Event.Event) => {
      const payload = event.payload
      switch (payload._tag) {
        case "ItemAdded":
          return onItemAdded(payload)
        case "TextDelta":
        case "ReasoningSummaryDelta":
        case "ReasoningDelta":
        case "FunctionCallArgumentsDelta":
          return onDelta(payload.itemId, payload.delta)
        case "RefusalDelta":
          return onDelta(payload.itemId, payload.delta, Style.red)
        case "ItemDone":
          return onItemDone(payload)
        case "ApprovalRequested":
          return ask()
        case "StateChanged":
          if (payload.participant === agent && payload.to === "awaiting-approval" && !agentResumed) {
            agentResumed = true
            ask()
          }
          return
        case "FunctionCallApproved":
          statusLine(`    ✓ approved by ${payload.by}`, Style.green)
          return settle(payload.callId)
        case "FunctionCallRejected":
          settled.add(payload.callId)
          statusLine(
            `    ✗ rejected by ${payload.by}${payload.reason === "rejected" ? "" : ` (${oneLine(payload.reason, 120)})`}`,
            Style.red
          )
          return settle(payload.callId)
        case "FunctionCallStarted":
          return statusLine(`    … running ${payload.name}`, Style.dim)
        case "FunctionCallFailed":
          settled.add(payload.callId)
          return statusLine(`    ✗ ${callNames.get(payload.callId) ?? "call"} failed: ${oneLine(payload.error, 160)}`, Style.red)
        case "FunctionCallCancelled":
          if (!settled.has(payload.callId)) {
            settled.add(payload.callId)
            statusLine(`    ✗ ${callNames.get(payload.callId) ?? "call"} cancelled (${payload.reason})`, Style.yellow)
          }
          return settle(payload.callId)
        case "InputQueued": {
          if (payload.participant !== agent) return
          if (cursor === payload.itemId) return screen.print(" (queued)", Style.dim)
          const text = userTexts.get(payload.itemId)
          return statusLine(`  (queued${text === undefined ? "" : `: ${oneLine(text, 60)}`})`, Style.dim)
        }
        case "RunEnded":
          if (payload.participant !== agent) return
          switch (payload.outcome) {
            case "interrupted":
              if (!stopped.has(payload.runId)) {
                cursor = null
                screen.newline()
                markStopped(payload.runId)
                screen.newline()
              }
              return
            case "failed":
              return statusLine(`  ✗ the run failed: ${oneLine(payload.detail ?? "", 200)}`, Style.red)
            case "turn_limit":
            case "exchange_cap":
              return statusLine(`  (${payload.detail ?? payload.outcome})`, Style.dim)
            default:
              return
          }
        case "ApprovalAnswerRefused":
          return statusLine(`  (answer not applied: ${payload.reason.replace(/_/g, " ")})`, Style.dim)
        case "ParticipantFailed":
          return statusLine(`  ✗ ${payload.participant} failed: ${oneLine(payload.cause, 200)}`, Style.red)
        case "HookFailed":
          return statusLine(`  ✗ hook ${payload.hook} failed: ${oneLine(payload.error, 200)}`, Style.red)
        case "JournalRepaired":
          return statusLine(`  (the journal's torn last line was cut off: ${payload.bytes} bytes)`, Style.dim)
        default:
          return
      }
    }

    const printHistory = (transcript: Reducer.TranscriptState) => {
      const items = Reducer.items(transcript).filter((item) =>
        item.status !== "in_progress" && item._tag !== "SystemMessage" && item._tag !== "DeveloperMessage"
      )
      if (items.length === 0) return
      statusLine("── earlier in this conversation ──", Style.dim)
      for (const item of items) printItem(item, null)
      statusLine("── resumed ──", Style.dim)
    }

    const renderer: Participant.Participant = {
      id: options.id ?? "terminal",
      kind: "observer",
      replay: true,
      run: (inbox, start) => {
        let transcript = Reducer.transcript.initial
        const step = (event: Event.Event) =>
          Effect.sync(() => {
            const before = { asking, busy: busy() }
            activity = Activity.reducer.reduce(activity, event)
            commands = Commands.reducer.reduce(commands, event)
            if (event.sequence > start.history) {
              live(event)
            } else {
              transcript = Reducer.transcript.reduce(transcript, event)
              if (event.sequence === start.history) {
                printHistory(transcript)
                for (const command of Commands.pendingApprovals(commands)) resumedApprovals.add(command.callId)
              }
            }
            if (asking !== before.asking || busy() !== before.busy) redraw()
          })
        return Effect.zipRight(Effect.sync(redraw), Stream.runForEach(inbox, step)).pipe(Effect.orDie)
      }
    }

    // --- keyboard ------------------------------------------------------------------------------

    const leave = Effect.asVoid(Deferred.succeed(quit, undefined))

    const submit = (line: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const text = line.trim()
        if (text === "/quit" || text === "/exit") return leave
        if (asking !== null) {
          const callId = asking
          const approved = parseApproval(text)
          if (approved === undefined) {
            statusLine(`  Please answer y or n (or /quit to leave).`, Style.yellow)
            return Effect.void
          }
          answered.add(callId)
          asking = null
          ask()
          return input.offer(new InputStream.Approval({ callId, approved, reason: null }))
        }
        if (text === "") return Effect.void
        return input.offer(InputStream.message(text))
      }).pipe(Effect.asVoid)

    const key = (pressed: Key): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pressed._tag !== "CtrlC") ctrlC = 0
        switch (pressed._tag) {
          case "CtrlC": {
            ctrlC++
            if (ctrlC > 1 || !busy()) return leave
            stopHint = true
            return Effect.asVoid(input.offer(new InputStream.Interrupt({ participant: agent, runId: null })))
          }
          case "CtrlD":
            return typed === "" ? leave : Effect.void
          case "End":
            return leave
          case "Text":
            typed += pressed.text
            return Effect.void
          case "Backspace":
            typed = Array.from(typed).slice(0, -1).join("")
            return Effect.void
          case "ClearLine":
            typed = ""
            return Effect.void
          case "Enter": {
            const line = typed
            typed = ""
            return submit(line)
          }
          case "Line":
            return submit(pressed.text)
        }
      }).pipe(Effect.zipLeft(Effect.sync(redraw)))

    const keyboard = Effect.gen(function*() {
      const keys = yield* Queue.unbounded<Key>()
      const stdin = process.stdin
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          if (stdin.isTTY) {
            Readline.emitKeypressEvents(stdin)
            const onKeypress = (text: string | undefined, info: Parameters<typeof keyOf>[1]) => {
              const pressed = keyOf(text, info)
              if (pressed !== undefined) Queue.unsafeOffer(keys, pressed)
            }
            stdin.setRawMode(true)
            stdin.on("keypress", onKeypress)
            stdin.resume()
            return () => {
              stdin.off("keypress", onKeypress)
              stdin.setRawMode(false)
              stdin.pause()
            }
          }
          const lines = Readline.createInterface({ input: stdin, terminal: false })
          lines.on("line", (text) => Queue.unsafeOffer(keys, { _tag: "Line", text }))
          lines.on("close", () => Queue.unsafeOffer(keys, { _tag: "End" }))
          return () => lines.close()
        }),
        (restore) => Effect.sync(restore)
      )
      yield* Stream.fromQueue(keys).pipe(Stream.runForEach(key), Effect.forkScoped)
    })

    return { renderer, input, key, keyboard, quit } satisfies Terminal
  })
