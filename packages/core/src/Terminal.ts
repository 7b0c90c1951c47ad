/**
 * A terminal for an environment: everything its participants do, rendered
 * legibly as it happens, and a person's keyboard as a `Human`'s input.
 *
 * - Every item is its own block, labelled by its author. Items that stream
 *   at the same time (two agents answering at once) each grow in their own
 *   block below the finished ones; a finished block is printed once, whole,
 *   so no word of one item ever lands inside another. Text wraps at word
 *   boundaries.
 * - Reasoning is dimmed; a tool call shows its arguments once, formatted,
 *   then its status (approved, running, its result, rejected with the
 *   person's reason, failed, cancelled).
 * - Approvals, clarification questions and MCP elicitations become prompts:
 *   `y`, `n` with a reason (`n too risky`), or any other text to reject the
 *   call and say what to do instead; an elicitation takes `name=value` pairs
 *   (or a JSON object), `decline` or `cancel`. Messages waiting in an agent's queue stay shown until it
 *   reads them.
 * - The input line has line editing (arrows, Home/End, Ctrl-A/E/U/K/W) and
 *   history (Up/Down). Ctrl-C stops the agents' runs, and quits when nothing
 *   runs or when pressed twice; `/quit` and Ctrl-D on an empty line quit.
 * - When stdin is not a terminal (a pipe), each line is input, and the
 *   terminal is done once the input has ended and everything it sent has
 *   been answered. When stdout is not a terminal, finished blocks are printed
 *   as plain text.
 *
 * The screen model is a pure fold of events ({@link update}, {@link live},
 * {@link render}), testable without a terminal; the terminal edge only draws
 * it.
 *
 * @example
 * import { Effect } from "effect"
 * import { Agent, Environment, Human, ScriptedModel, Terminal } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const terminal = yield* Terminal.make({ human: "you" })
 *   yield* env.join(terminal.renderer)
 *   const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("Hello!")]] })
 *   yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(model.layer))
 *   yield* env.join(Human.make({ id: "you" })).pipe(Effect.provide(terminal.layer))
 *   yield* terminal.keyboard
 *   yield* terminal.done
 * }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory()))
 *
 * @since 0.1.0
 */
import type { Effect, Layer, Scope } from "effect"
import type * as Environment from "./Environment.js"
import type * as Event from "./Event.js"
import * as editor from "./internal/terminal/editor.js"
import * as keyboard from "./internal/terminal/keyboard.js"
import * as rendering from "./internal/terminal/render.js"
import * as internal from "./internal/terminal/terminal.js"
import type * as Text from "./internal/terminal/text.js"
import * as view from "./internal/terminal/view.js"
import type * as InputStream from "./InputStream.js"
import type * as Participant from "./Participant.js"

/** Options of {@link make}. */
export type Options = internal.Options

/** A key the terminal handles (from the keyboard, or from a test). */
export type Key = editor.Key

/** A style of the terminal's text. */
export type Style = Text.Style

/** A terminal. */
export interface Terminal {
  /** The renderer: join it to the environment first, so it sees everything (and the history of a resumed one). */
  readonly renderer: Participant.Participant<never, Environment.Environment>
  /** What the person does, for a `Human`: `env.join(Human.make({ id })).pipe(Effect.provide(terminal.layer))`. */
  readonly layer: Layer.Layer<InputStream.InputStream>
  /** Reads the keyboard until the scope closes, then restores the terminal's mode. */
  readonly keyboard: Effect.Effect<void, never, Scope.Scope>
  /** Handles a key as if it were typed. */
  readonly key: (key: Key) => Effect.Effect<void>
  /** Completes when the person leaves, or when piped input has ended and everything it asked was answered. */
  readonly done: Effect.Effect<void>
  /** Prints a line of the program's own (a banner, a log line) above the live region. */
  readonly print: (text: string, style?: Style) => Effect.Effect<void>
  /** Removes the live region and the input line for good, leaving the cursor below the output. */
  readonly close: Effect.Effect<void>
}

/** Makes a terminal on `process.stdout` and `process.stdin` (or the given output and input). */
export const make: (options?: Options) => Effect.Effect<Terminal> = internal.make

/** The screen model: a pure fold of events. */
export type View = view.View

/** A screen model after an event: the new model and the lines it prints for good. */
export type Update = view.Update

/** An empty screen model, wrapping at `width` columns. */
export const initial: (options: { readonly width: number; readonly human: string }) => View = view.initial

/** The screen model after one event. */
export const update: (view: View, event: Event.Event) => Update = view.update

/** The live region: the blocks still streaming (at most `rows` rows), then the queued messages. */
export const live: (view: View, rows: number) => ReadonlyArray<ReadonlyArray<{ readonly text: string; readonly style: Style }>> = rendering.live

/** The text a sequence of events prints for good, without styles (what a pipe receives). */
export const render: (events: Iterable<Event.Event>, options: { readonly width: number; readonly human?: string | undefined }) => string =
  internal.render

/** What an answer to an approval means: approve, reject with an optional reason, or do something else instead. */
export const parseApproval: (line: string) => editor.Approval | undefined = editor.parseApproval

/** What an answer to an MCP elicitation means: `name=value` pairs or a JSON object accept (a one-field form takes the bare value, `no` included), `decline` (or a bare `no` when there are several fields), `cancel`. */
export const parseElicitation: (
  line: string,
  schema: Readonly<Record<string, unknown>>
) => { readonly action: "accept" | "decline" | "cancel"; readonly content: Record<string, unknown> | null } | undefined =
  editor.parseElicitation

/** The line editor: the line, its cursor, its history. */
export type Editor = editor.Editor

/** An empty line editor. */
export const emptyEditor: Editor = editor.empty

/** The line editor after a key. */
export const edit: (editor: Editor, key: Key) => Editor = editor.edit

/** The key a readline `keypress` is, if the terminal handles it. */
export const keyOf: (text: string | undefined, info: keyboard.KeyInfo | undefined) => Key | undefined = keyboard.keyOf
