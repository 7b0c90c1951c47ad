/**
 * The terminal participant: one fiber owns the screen model, the line being
 * typed and the session, and handles environment events and keys in order.
 *
 * @internal
 */
import { Deferred, Effect, Either, FiberHandle, Layer, Queue, Stream } from "effect"
import type { Scope } from "effect"
import * as Elicitation from "../../Elicitation.js"
import * as Environment from "../../Environment.js"
import type * as Event from "../../Event.js"
import * as InputStream from "../../InputStream.js"
import type * as Participant from "../../Participant.js"
import * as Editor from "./editor.js"
import { status } from "./format.js"
import * as Keyboard from "./keyboard.js"
import * as Screen from "./screen.js"
import type { Line, Style } from "./text.js"
import { wrap } from "./text.js"
import * as Render from "./render.js"
import * as View from "./view.js"

/** Options of a terminal. */
export interface Options {
  /** The person at this terminal: the author of what they type. Default `you`. */
  readonly human?: string | undefined
  /** The renderer's participant id. Default `terminal`. */
  readonly id?: string | undefined
  /** The agents Ctrl-C stops. Default: every agent with a run going on. */
  readonly interrupts?: ReadonlyArray<string> | undefined
  /** Print the journal's history when joining (a resumed conversation). Default `true`. */
  readonly history?: boolean | undefined
  /** Where to draw. Default `process.stdout`. */
  readonly output?: Screen.Output | undefined
  /** Where keys come from. Default `process.stdin`. */
  readonly input?: Keyboard.Input | undefined
  /** After the input ends (a pipe), how long everything must stay quiet before the terminal is done. Default 300 ms. */
  readonly settle?: number | undefined
}

/** What the renderer's fiber handles: events, keys, and its own timer. */
type Signal =
  | { readonly _tag: "Event"; readonly event: Event.Event }
  | { readonly _tag: "Key"; readonly key: Editor.Key }
  | { readonly _tag: "Settled"; readonly after: number }

/** A terminal. */
export interface Terminal {
  readonly renderer: Participant.Participant<never, Environment.Environment>
  readonly layer: Layer.Layer<InputStream.InputStream>
  readonly key: (key: Editor.Key) => Effect.Effect<void>
  readonly keyboard: Effect.Effect<void, never, Scope.Scope>
  readonly done: Effect.Effect<void>
  readonly print: (text: string, style?: Style) => Effect.Effect<void>
  readonly close: Effect.Effect<void>
}

const earlier: Line = [{ text: "── earlier in this conversation ──", style: "dim" }]
const resumed: Line = [{ text: "── resumed ──", style: "dim" }]

export const make = (options: Options = {}): Effect.Effect<Terminal> =>
  Effect.gen(function*() {
    const human = options.human ?? "you"
    const screen = Screen.make(options.output ?? process.stdout)
    const signals = yield* Queue.unbounded<Signal>()
    const inputs = yield* Queue.unbounded<InputStream.Input>()
    const quit = yield* Deferred.make<void>()
    const settleMillis = options.settle ?? 300

    // --- owned by the renderer's fiber ------------------------------------------------------------
    let view = View.initial({ width: screen.width(), human })
    let editor = Editor.empty
    let ctrlC = 0
    let inputEnded = false
    /** Lines read from input that is not a terminal, given one at a time, as a person would type them. */
    const pending: Array<string> = []
    let sent = 0
    let seen = 0
    let lastSequence = -1
    /** No input line until the keyboard is read: a program that only shows the environment has none. */
    let typing = false
    /** The last frame drawn, so that `print` can redraw it under its own lines. */
    let frame: { live: ReadonlyArray<Line>; input: Screen.InputLine | undefined } = { live: [], input: undefined }

    const inputLine = (): Screen.InputLine => {
      const prompt = Render.promptText(view)
      return { prompt: [{ text: prompt.text, style: prompt.style }], text: Editor.text(editor), cursor: editor.cursor }
    }

    const draw = (commit: ReadonlyArray<Line>) => {
      if (screen.width() !== view.width) view = View.resize(view, screen.width())
      const hint = typing ? Render.hint(view) : undefined
      frame = {
        live: hint === undefined ? Render.live(view, screen.liveRows()) : [...Render.live(view, screen.liveRows() - 1), hint],
        input: typing ? inputLine() : undefined
      }
      screen.draw(commit, frame.live, frame.input)
    }

    const say = (text: string, style: Style = "dim") => draw(status(text, view.width, style))

    const leave = Deferred.succeed(quit, undefined)

    /** The environment the renderer joined (set when it starts), to answer elicitations in. */
    const joined = yield* Deferred.make<Environment.Environment["Type"]>()
    const environment = Deferred.await(joined)

    const offer = (input: InputStream.Input) => Queue.offer(inputs, input)

    const onLine = (line: string): Effect.Effect<unknown> => {
      const text = line.trim()
      if (text === "/quit" || text === "/exit") return leave
      const prompt = View.currentPrompt(view)
      if (prompt?._tag === "Elicitation") {
        const parsed = Editor.parseElicitation(line, prompt.schema)
        const checked = parsed === undefined || parsed.action !== "accept" || parsed.content === null
          ? Either.right(parsed?.content ?? null)
          : Either.map(Elicitation.validate(prompt.schema, parsed.content), (content): Record<string, unknown> | null => content)
        if (parsed === undefined || Either.isLeft(checked)) {
          say(Either.isLeft(checked) ? `${checked.left.message.replace(/[\s.;:!]+$/, "")}; try again.` : "Answer name=value, … (or a JSON object), decline, or cancel.", "yellow")
          return Effect.void
        }
        view = View.answer(view, prompt.callId)
        return Effect.flatMap(environment, (env) =>
          Elicitation.answer(human, {
            elicitationId: prompt.callId,
            action: parsed.action,
            content: checked.right as Event.ElicitationContent | null
          }).pipe(Effect.provideService(Environment.Environment, env), Effect.orDie))
      }
      if (prompt !== undefined) {
        const input = Editor.reply(prompt, line)
        if (input === undefined) {
          say(prompt._tag === "Approval" ? "Answer y, n with a reason (n too risky), or say what to do instead." : "Type your answer.", "yellow")
          return Effect.void
        }
        view = View.answer(view, prompt.callId)
        return offer(input)
      }
      if (text === "") return Effect.void
      sent++
      return offer(InputStream.message(text))
    }

    const onKey = (key: Editor.Key): Effect.Effect<unknown> => {
      if (key._tag !== "CtrlC") ctrlC = 0
      switch (key._tag) {
        case "CtrlC": {
          ctrlC++
          const running = View.busy(view).filter((id) => options.interrupts?.includes(id) ?? true)
          if (ctrlC > 1 || running.length === 0) return leave
          say(`(stopping ${running.join(", ")} · Ctrl-C again quits)`, "yellow")
          return Effect.forEach(running, (participant) => offer(new InputStream.Interrupt({ participant, runId: null })))
        }
        case "CtrlD":
          if (Editor.text(editor) === "") return leave
          editor = Editor.edit(editor, { _tag: "Delete" })
          return Effect.void
        case "EndOfInput":
          inputEnded = true
          return Effect.void
        case "Enter": {
          const submitted = Editor.submit(editor)
          editor = submitted.editor
          return onLine(submitted.line)
        }
        case "Line":
          pending.push(key.text)
          return Effect.void
        default:
          editor = Editor.edit(editor, key)
          return Effect.void
      }
    }

    // Piped input is typed as a person would: the next line once the question it may answer is asked, or once
    // everything is quiet (what was sent is answered); after the last line, the terminal is done when all is quiet.
    const settleCheck = (timer: FiberHandle.FiberHandle): Effect.Effect<unknown> => {
      if (pending.length > 0 && View.currentPrompt(view) !== undefined) {
        return Effect.zipRight(onLine(pending.shift() ?? ""), Effect.suspend(() => settleCheck(timer)))
      }
      return (pending.length > 0 || inputEnded) && seen >= sent && View.isQuiet(view)
        ? FiberHandle.run(timer, Effect.zipRight(Effect.sleep(settleMillis), Queue.offer(signals, { _tag: "Settled", after: lastSequence })))
        : FiberHandle.clear(timer)
    }

    const onSettled = (timer: FiberHandle.FiberHandle, after: number): Effect.Effect<unknown> => {
      if (after !== lastSequence || !View.isQuiet(view)) return Effect.void
      const line = pending.shift()
      if (line === undefined) return inputEnded ? leave : Effect.void
      return Effect.zipRight(onLine(line), Effect.suspend(() => settleCheck(timer)))
    }

    const renderer: Participant.Participant<never, Environment.Environment> = {
      id: options.id ?? "terminal",
      kind: "observer",
      replay: options.history ?? true,
      run: (inbox, start) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(joined, yield* Environment.Environment)
          const timer = yield* FiberHandle.make()
          const history: Array<Line> = []
          const onEvent = (event: Event.Event) => {
            const update = View.update(view, event)
            view = update.view
            lastSequence = event.sequence
            if (event.sequence <= start.history) {
              history.push(...update.commit)
              if (event.sequence === start.history && history.length > 0) draw([earlier, ...history, resumed])
              return
            }
            const payload = event.payload
            if (payload._tag === "ItemDone" && payload.item._tag === "UserMessage" && event.author === human) seen++
            draw(update.commit)
          }
          const handle = (signal: Signal): Effect.Effect<unknown> => {
            switch (signal._tag) {
              case "Event":
                onEvent(signal.event)
                return settleCheck(timer)
              case "Key":
                return Effect.zipRight(onKey(signal.key), Effect.suspend(() => {
                  draw([])
                  return settleCheck(timer)
                }))
              case "Settled":
                return onSettled(timer, signal.after)
            }
          }
          draw([])
          yield* Stream.merge(
            Stream.map(inbox, (event): Signal => ({ _tag: "Event", event })),
            Stream.fromQueue(signals)
          ).pipe(Stream.runForEach(handle))
        }).pipe(Effect.scoped, Effect.orDie)
    }

    const key = (pressed: Editor.Key) => Queue.offer(signals, { _tag: "Key", key: pressed }).pipe(Effect.asVoid)

    const keyboard = Effect.acquireRelease(
      Effect.sync(() => {
        typing = true
        return Keyboard.listen(options.input ?? process.stdin, (pressed) => Queue.unsafeOffer(signals, { _tag: "Key", key: pressed }))
      }),
      (stop) => Effect.sync(stop)
    ).pipe(Effect.asVoid)

    const print = (text: string, style: Style = "plain") =>
      Effect.sync(() => screen.draw(wrap(text, screen.width()).map((row) => [{ text: row, style }]), frame.live, frame.input))

    return {
      renderer,
      layer: InputStream.layerQueue(inputs),
      key,
      keyboard,
      done: Deferred.await(quit),
      print,
      close: Effect.sync(() => screen.close())
    }
  })

/** The committed text a sequence of events gives, without styles: what a pipe would receive. */
export const render = (events: Iterable<Event.Event>, options: { readonly width: number; readonly human?: string | undefined }): string => {
  let view = View.initial({ width: options.width, human: options.human ?? "you" })
  const lines: Array<string> = []
  for (const event of events) {
    const update = View.update(view, event)
    view = update.view
    for (const line of update.commit) lines.push(line.map((span) => span.text).join(""))
  }
  return lines.join("\n")
}

