/**
 * Agents: participants built from the generators.
 *
 * An agent is a **controller** that reads its inbox directly, always: it
 * decides which messages start a run, what happens to a message that arrives
 * while a run is going (queue, steer, interrupt, drop — every disposition is
 * published), routes approval and clarification answers, and stops runs. A
 * **run** goes `idle` → `inference` → `function_calls` → `inference` … →
 * `idle`; every transition is published, every run has an id its events
 * carry, and the run's steps report back only through the events they
 * publish (an inference's end, a call's output, a failed hook, the run's end),
 * which the controller folds and decides on.
 *
 * The model's answer comes as provider-neutral parts, assembled into items by
 * one core module (`internal/inference/assemble.ts`) that checks their order: a
 * runner that breaks it fails the inference (`malformed_stream`), the run ends
 * `failed`, the agent stays responsive.
 *
 * The context the model sees is rebuilt from the environment's items (the
 * `ItemDone` events the agent received), in the order they reached the agent,
 * except that a queued message enters the context when it is handled and a
 * steered one before the next model call. Other participants' messages reach
 * the model as user messages attributed to their author; other agents'
 * function calls are not shown unless asked for. A message or reasoning cut
 * short by a *failed* inference stays in the transcript as `incomplete` but
 * leaves the context: the model did not choose to stop there (one cut by a
 * stop stays, marked `incomplete`).
 *
 * ## Stop
 * Interrupting a run interrupts its fiber: the inference stream is closed (a
 * provider aborts its HTTP request), running tool fibers are interrupted. Then
 * the controller closes every item left open as `incomplete` with its partial
 * content, gives every function call without an output a synthetic output
 * saying it was cancelled (so the next request is valid), publishes what was
 * cut short, and handles queued input. Leaving the environment mid-run closes
 * the run the same way; stopping with the environment leaves it to resume.
 *
 * ## Approvals
 * A call whose policy requires approval is published as `ApprovalRequested`
 * and waits. Calls are identified by run and call id (providers reuse call
 * ids). The first answer from a participant allowed to approve decides, even
 * one that arrives before the request (it is kept); a second answer, an answer
 * from a participant without the right, for a call that ended without it, or
 * for a call nobody asked is refused visibly. A configurable timeout counts as
 * a rejection. A tool runs only once `FunctionCallStarted` is durable in the
 * journal: if the journal cannot confirm it, the call fails without running.
 *
 * ## Resume
 * Joining replays the journal (option `resume`): the agent folds it with one
 * reducer (`internal/agent/history.ts`), then decides (`internal/agent/resume.ts`)
 * — pending approvals stay pending, approved calls run once, a started call is
 * never re-run, a run cut mid-inference ends as interrupted, unhandled input is
 * queued.
 *
 * ## Shape
 * This module is the public face (options, hooks, `make`); the agent lives in `internal/agent/`.
 * Its state is data (`state.ts`): its history — one fold (`history.ts`) of the events it takes,
 * replayed or live, so resume and live handling cannot disagree; the context the model sees is
 * that fold — and its controller's state. Decisions are pure, `decide(state, input) → [state,
 * commands]`: the controller (`controller.ts`), what moves a run on from the events its steps
 * publish (`steps.ts`), a run's end and stop (`run.ts`), resume (`resume.ts`), which messages
 * start a run (`triggers.ts`). An interpreter (`interpreter.ts`) runs the commands: an inference
 * in the agent's `FiberHandle` (`inference.ts`), each call in the agent's `FiberMap` keyed by run
 * and call id (`calls.ts`). The controller's loop reads the inbox (`loop.ts`). The agent declares
 * the kinds of event it takes (`Participant.kinds`): deltas never reach it.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect } from "effect"
import type * as ContextItem from "./ContextItem.js"
import * as Event from "./Event.js"
import type * as Environment from "./Environment.js"
import type * as InferenceRunner from "./InferenceRunner.js"
import * as History from "./internal/agent/history.js"
import * as Loop from "./internal/agent/loop.js"
import * as Runtime from "./internal/agent/runtime.js"
import type * as Journal from "./Journal.js"
import type * as Participant from "./Participant.js"
import type * as Tool from "./Tool.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * What starts a run:
 * - `"messages"` (default): every message from a human, and messages addressed to this agent;
 * - `"addressed"`: messages addressed to it (`to` holds its id, or the text mentions `@id`);
 * - `{ from }`: every message (user or model) from the named participants, and messages addressed to it;
 * - a predicate over the finished message and its event.
 */
export type ReactTo =
  | "messages"
  | "addressed"
  | { readonly from: ReadonlyArray<string> }
  | ((message: ContextItem.Message, event: Event.Event, done: Event.ItemDone) => boolean)

/** How the agent sees other participants' items. */
export interface Visibility {
  /** Prefix others' messages with their author (`"alice: ..."`). Default true. */
  readonly attribute?: boolean | undefined
  /** Show other agents' function calls and outputs (as attributed user text). Default false. */
  readonly othersFunctionCalls?: boolean | undefined
  /** Include others' messages at all (`"environment"`, default) or only those that triggered this agent (`"triggers"`). */
  readonly scope?: "environment" | "triggers" | undefined
}

/** What `beforeInference` may do: nothing, rewrite the context or tools, or skip the inference. */
export type BeforeInference =
  | void
  | {
    readonly items?: ReadonlyArray<ContextItem.ContextItem> | undefined
    readonly tools?: ReadonlyArray<Tool.Definition> | undefined
  }
  | { readonly skip: true }

/** What `beforeFunctionCall` may do: nothing, rewrite the arguments, or veto with an output the model sees. */
export type BeforeFunctionCall = void | { readonly arguments: string } | { readonly veto: string }

/** What `afterFunctionCall` may do: nothing, or rewrite the output. */
export type AfterFunctionCall = void | { readonly output: Tool.Result }

/** What `onUserMessage` may do: nothing, or ignore the message (no run starts for it). */
export type OnUserMessage = void | { readonly ignore: true }

/** Hooks at every transition; effects that may observe, rewrite or veto. A failing hook ends the run. */
export interface Hooks {
  readonly onUserMessage?: (message: ContextItem.Message, event: Event.Event) => Effect.Effect<OnUserMessage, unknown>
  readonly beforeInference?: (input: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly tools: ReadonlyArray<Tool.Definition>
  }) => Effect.Effect<BeforeInference, unknown>
  readonly afterInference?: (output: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly usage: Event.Usage
  }) => Effect.Effect<void, unknown>
  readonly beforeFunctionCall?: (call: ContextItem.FunctionCall) => Effect.Effect<BeforeFunctionCall, unknown>
  readonly afterFunctionCall?: (
    call: ContextItem.FunctionCall,
    result: Tool.Result
  ) => Effect.Effect<AfterFunctionCall, unknown>
  readonly onModelMessage?: (message: ContextItem.ModelMessage) => Effect.Effect<void, unknown>
}

/** Approval settings. */
export interface Approval {
  /** Policy per tool name; wins over the agent default and the tool's own. */
  readonly tools?: { readonly [name: string]: Tool.ApprovalPolicy } | undefined
  /** Policy for every tool of this agent, over the tools' own. */
  readonly default?: Tool.ApprovalPolicy | undefined
  /** Who may answer: these participant ids; default any human participant. */
  readonly approvers?: ReadonlyArray<string> | undefined
  /** An unanswered request is rejected after this long. Default: never. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Options of an agent. */
export interface Options {
  readonly id: string
  /** The system prompt (sent first, not published). */
  readonly instructions?: string | undefined
  /** Which tools of the `FunctionCallRunner` this agent offers the model (all when absent). */
  readonly tools?: ((definition: Tool.Definition) => boolean) | undefined
  readonly reactTo?: ReactTo | undefined
  readonly visibility?: Visibility | undefined
  readonly hooks?: Hooks | ReadonlyArray<Hooks> | undefined
  /** Most inferences in one run. Default 10. */
  readonly maxTurns?: number | undefined
  /** Function calls of one turn running at once. Default 4. */
  readonly concurrency?: number | undefined
  /** Most runs in a row triggered by other agents without a human message in between. Default 5. */
  readonly exchangeCap?: number | undefined
  /** What to do with a message that arrives while busy. Default `queue`. */
  readonly busyPolicy?: Event.BusyPolicy | undefined
  readonly approval?: Approval | undefined
  /** Offer the model an `ask_human` tool that pauses the run until a person answers. */
  readonly askHuman?: boolean | undefined
  readonly inference?: InferenceRunner.Options | undefined
  /**
   * Resume from the environment's journal when joining (default true): rebuild the context, keep pending
   * approvals pending, run approved calls once, close runs cut by a restart, re-queue queued input.
   */
  readonly resume?: boolean | undefined
}

/** A hook failed; the run ended and the agent is idle again. */
export const HookError = Runtime.HookError
/** A hook failed; the run ended and the agent is idle again. */
export type HookError = Runtime.HookError

/** The name of the clarification tool. */
export const askHumanTool: "ask_human" = Runtime.askHumanTool

/**
 * Makes an agent: a participant that needs an `InferenceRunner` (provide it per agent) and
 * the `Environment`; its tools come from a `FunctionCallRunner` when one is provided.
 *
 * @example
 * import { Effect } from "effect"
 * import { Agent, Environment, ScriptedModel } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("Hello!")]] })
 *   // No tools: no FunctionCallRunner needed (provide `Toolkit.make(...).layer` to give it some).
 *   yield* env.join(Agent.make({ id: "assistant", instructions: "Be brief." })).pipe(Effect.provide(model.layer))
 * })
 */
export const make = (
  options: Options
): Participant.Participant<
  Journal.JournalError | Journal.JournalCorrupted,
  Environment.Environment | InferenceRunner.InferenceRunner
> => ({
  id: options.id,
  kind: "agent",
  // The controller needs finished items and control events, never live deltas: declared by kind, so the
  // environment's fan-out skips the agent for other kinds at no cost.
  kinds: Runtime.kinds,
  addressed: Runtime.addressed,
  accepts: History.uses(options.id, (options.visibility?.scope ?? "environment") === "environment", options.reactTo),
  replay: options.resume ?? true,
  // The fold ignores what the agent does not take: the environment may replay only that (nothing, for a newcomer).
  replayTaken: true,
  run: (inbox, start) => Effect.flatMap(Runtime.make(options), (rt) => Loop.serve(rt, inbox, start)),
  // The controller reads its mailbox directly: an idle agent is its state, its mailbox and one waiting loop.
  serve: (mailbox, start) => Effect.flatMap(Runtime.make(options), (rt) => Loop.serveMailbox(rt, mailbox, start))
})
