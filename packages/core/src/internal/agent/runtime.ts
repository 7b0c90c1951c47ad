/**
 * What one agent holds while it lives: its settings, its services, its folded history, its
 * controller's state and the run going. Built once when the agent starts; every internal
 * function takes it (module-level functions, not closures per agent).
 *
 * Ownership: the controller fiber folds the history, decides and sets `current`; the run fiber
 * and its call fibers update their `Run.RunState` (data, in the run's `Ref`) and read the fold.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit, FiberHandle, FiberMap, HashSet, Option, Ref, Schema, Scope } from "effect"
import type * as Agent from "../../Agent.js"
import * as ContextItem from "../../ContextItem.js"
import * as Environment from "../../Environment.js"
import * as Event from "../../Event.js"
import * as FunctionCallRunner from "../../FunctionCallRunner.js"
import * as InferenceRunner from "../../InferenceRunner.js"
import type * as Tool from "../../Tool.js"
import { present } from "./context.js"
import * as Controller from "./controller.js"
import * as State from "./state.js"
import * as History from "./history.js"
import * as CombinedHooks from "./hooks.js"
import * as Run from "./run.js"

/** A hook failed; the run ended and the agent is idle again. */
export class HookError extends Schema.TaggedError<HookError>()("HookError", {
  hook: Schema.String,
  cause: Schema.Defect
}) {
  override get message() {
    return `hook ${this.hook} failed: ${describe(this.cause)}`
  }
}

/** The name of the clarification tool. */
export const askHumanTool = "ask_human"

const askHumanDefinition: Tool.Definition = {
  name: askHumanTool,
  description: "Ask a person a clarifying question and wait for the answer. Use it when you cannot proceed without it.",
  parameters: {
    type: "object",
    properties: { question: { type: "string", description: "The question, in one or two sentences." } },
    required: ["question"],
    additionalProperties: false
  },
  strict: true,
  annotations: { readOnly: true },
  approval: "never"
}

const noTools: FunctionCallRunner.Service = {
  tools: Effect.succeed([]),
  run: ({ call }) =>
    Effect.fail(new FunctionCallRunner.FunctionCallError({ reason: "unknown_tool", name: call.name, detail: "This agent has no tools." }))
}

/** An error's message, or the value as text. */
export const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

const runHook = <A>(name: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, HookError> =>
  Effect.catchAllCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.fail(new HookError({ hook: name, cause: Cause.squash(cause) })))

/** One agent while it lives. */
export interface Runtime {
  readonly me: string
  readonly options: Agent.Options
  readonly env: Environment.Service
  readonly inference: InferenceRunner.Service
  readonly functions: FunctionCallRunner.Service
  readonly hooks: CombinedHooks.Combined<HookError>
  readonly settings: Controller.Settings
  readonly historyReducer: ReturnType<typeof History.reducer>
  /** The agent's state (`state.ts`): its history, folded from every event it receives, and its controller's. */
  readonly state: Ref.Ref<State.State>
  /** The last event this agent published (and receives): a run waits until the fold has reached it. */
  readonly published: Ref.Ref<number>
  /** The run's fibers, made when the agent first runs (an idle agent has none); see {@link fibers}. */
  fibers: Fibers | undefined
  /** The run going's own state (what it has open), written by its step fibers. */
  current: Run.Current | undefined
}

/** The fibers of the agent's runs, in a scope of their own that closes when the agent stops. */
export interface Fibers {
  readonly scope: Scope.CloseableScope
  /** The inference going, in a `FiberHandle`. */
  readonly runs: FiberHandle.FiberHandle<void>
  /** The calls going, in a `FiberMap` keyed by run and call id. */
  readonly calls: FiberMap.FiberMap<string, void>
}

/**
 * Makes an agent's runtime: plain data and its state. What only a run needs (fibers, scope,
 * approvals) is made when the agent first needs it; {@link release} closes it.
 */
export const make = (options: Agent.Options) =>
  Effect.gen(function*() {
    const me = options.id
    const historyReducer = History.reducer(
      me,
      (options.visibility?.scope ?? "environment") === "environment",
      options.reactTo ?? "messages"
    )
    const rt: Runtime = {
      me,
      options,
      env: yield* Environment.Environment,
      inference: yield* InferenceRunner.InferenceRunner,
      // An agent without tools needs no runner.
      functions: Option.getOrElse(yield* Effect.serviceOption(FunctionCallRunner.FunctionCallRunner), () => noTools),
      hooks: CombinedHooks.combine(options.hooks, runHook),
      settings: {
        me,
        exchangeCap: options.exchangeCap ?? 5,
        maxTurns: options.maxTurns ?? 10,
        concurrency: options.concurrency ?? 4,
        approvalTimeout: options.approval?.timeout === undefined ? undefined : Duration.decode(options.approval.timeout)
      },
      historyReducer,
      state: Ref.unsafeMake(State.initial(historyReducer.initial)),
      published: Ref.unsafeMake(-1),
      fibers: undefined,
      current: undefined
    }
    return rt
  }) satisfies Effect.Effect<Runtime, never, Environment.Environment | InferenceRunner.InferenceRunner>

/** The run's fibers, made on first use (by the controller fiber). */
export const fibers = (rt: Runtime): Effect.Effect<Fibers> =>
  rt.fibers !== undefined ? Effect.succeed(rt.fibers) : Effect.gen(function*() {
    const scope = yield* Scope.make()
    const runs = yield* Scope.extend(FiberHandle.make<void>(), scope)
    const calls = yield* Scope.extend(FiberMap.make<string, void>(), scope)
    if (rt.fibers !== undefined) {
      yield* Scope.close(scope, Exit.void)
      return rt.fibers
    }
    return rt.fibers = { scope, runs, calls }
  })

/** Closes what the agent made while it ran (its fibers are interrupted): when it stops. */
export const release = (rt: Runtime): Effect.Effect<void> =>
  Effect.suspend(() => rt.fibers === undefined ? Effect.void : Scope.close(rt.fibers.scope, Exit.void))

/**
 * The kinds of event an agent takes: what its history folds (`history.ts`, `Commands.reducer`),
 * what its controller decides on, and the answers it routes. Never deltas: the environment's
 * fan-out skips the agent for them (and for every other kind) at no cost. The kinds in
 * {@link addressed} it takes only when they concern it (`History.takes` says the same).
 */
export const kinds: ReadonlyArray<Event.Payload["_tag"]> = [
  "ItemAdded",
  "ItemDone",
  "InferenceStarted",
  "InferenceCompleted",
  "InferenceFailed",
  "InferenceInterrupted",
  "FunctionCallRequested",
  "ApprovalRequested",
  "ApprovalAnswered",
  "FunctionCallApproved",
  "FunctionCallRejected",
  "FunctionCallStarted",
  "FunctionCallProgress",
  "FunctionCallCompleted",
  "FunctionCallFailed",
  "FunctionCallCancelled",
  "ClarificationAnswered"
]

/**
 * Kinds an agent takes only when addressed to it (`payload.participant`): its own join and
 * leave, runs and input dispositions, hook failures and interrupts. Indexed by the
 * environment per addressee, so N agents joining cost O(N), not O(N²) deliveries.
 */
export const addressed: ReadonlyArray<Event.Payload["_tag"]> = [
  "ParticipantJoined",
  "ParticipantLeft",
  "RunStarted",
  "RunEnded",
  "InputQueued",
  "InputDropped",
  "InputDequeued",
  "InputSteered",
  "HookFailed",
  "InterruptRequested"
]

/** Publishes as the agent, remembering the sequence of what it will receive (a step waits for its fold to reach it). */
export const publish = (rt: Runtime, payload: Event.Payload): Effect.Effect<Event.Event> =>
  Effect.tap(rt.env.publish(rt.me, payload), (event) =>
    History.takes(rt.me, event) ? Ref.update(rt.published, (last) => Math.max(last, event.sequence)) : Effect.void)

/** The kind of a member, if present. */
export const kindOf = (rt: Runtime, id: string) =>
  Effect.map(rt.env.members, (members) => members.find((member) => member.id === id)?.kind)

/**
 * The context the model sees: the fold of what the agent has seen, once it has seen what it
 * published itself (the fold resume computes from the journal), without input deferred to a later
 * run or model call, presented from the agent's point of view.
 */
export const context = (rt: Runtime): Effect.Effect<Array<ContextItem.ContextItem>> =>
  Effect.gen(function*() {
    yield* State.await(rt.state, yield* Ref.get(rt.published))
    const { controller: { deferred }, history } = yield* Ref.get(rt.state)
    const items: Array<ContextItem.ContextItem> = []
    if (rt.options.instructions !== undefined) {
      items.push(ContextItem.systemText({ id: `${rt.me}_instructions`, author: rt.me, text: rt.options.instructions }))
    }
    for (const item of History.context({ ...history, hidden: HashSet.union(history.hidden, deferred) })) {
      const shown = present(rt.me, item, rt.options.visibility)
      if (shown !== undefined) items.push(shown)
    }
    return items
  })

/** The tools offered to the model. */
export const toolDefinitions = (rt: Runtime) =>
  Effect.map(rt.functions.tools, (definitions) => {
    const offered = rt.options.tools === undefined ? [...definitions] : definitions.filter(rt.options.tools)
    return rt.options.askHuman === true ? [...offered, askHumanDefinition] : offered
  })

/** A call's approval policy: the agent's per tool, the agent's default, the tool's own. */
export const approvalPolicy = (rt: Runtime, definition: Tool.Definition | undefined, name: string): Tool.ApprovalPolicy =>
  rt.options.approval?.tools?.[name] ?? rt.options.approval?.default ?? definition?.approval ?? "never"

/** Publishes the run's state change, if it changes. */
export const setState = (rt: Runtime, run: Run.Current, to: Event.AgentState) =>
  Effect.flatMap(
    Ref.modify(run.state, (state) => [state.state, Run.withState(to)(state)] as const),
    (from) => from === to ? Effect.void : publish(rt, new Event.StateChanged({ participant: rt.me, runId: run.runId, from, to }))
  )

/** Runs a run's publishing commands, in order. */
export const emitAll = (rt: Runtime, commands: ReadonlyArray<Controller.Command>) =>
  Effect.forEach(commands, (command) =>
    command._tag === "Publish"
      ? publish(rt, command.payload)
      : Effect.dieMessage(`a run's decision cannot ${command._tag}`), { discard: true })
