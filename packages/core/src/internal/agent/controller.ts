/**
 * The agent's controller as a decider: its state is data (the run going and the step it is at,
 * the queue, the steered input, the exchange count), and each input it handles is a pure
 * transition that returns the next state and the commands to run — publish an event, start or
 * stop a run, start an inference, start a call, end a run. The interpreter runs the commands in
 * order; effects (the hook that may ignore a message, who authored it) are gathered before the
 * decision, as facts. A run's steps report back only through the events they publish: the
 * agent's own `InferenceStarted`, function calls done, `InferenceCompleted` / `InferenceFailed`,
 * `HookFailed`, outputs done and `RunEnded` move the run on (`steps.ts`).
 *
 * @internal
 */
import { Chunk, Data, type Duration, HashSet } from "effect"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as Run from "./run.js"
import * as Steps from "./steps.js"

/** The run going, as the controller sees it from the events its steps publish. */
export interface Step {
  readonly runId: string
  /** The current (or last) inference's turn, from 1. */
  readonly turn: number
  readonly at: "inference" | "calls" | "ending"
  /** The inference started and not finished. */
  readonly inferenceId: string | null
  /** Function calls the current inference produced, in order. */
  readonly produced: Chunk.Chunk<ContextItem.FunctionCall>
  /** The turn's calls not started yet (at most `concurrency` run at once). */
  readonly waiting: Chunk.Chunk<readonly [ContextItem.FunctionCall, Run.Stage]>
  /** The turn's calls started and without an output yet. */
  readonly open: HashSet.HashSet<string>
  /** A hook failed while the inference was open (`afterInference`): the run fails when it ends. */
  readonly failed: string | null
}

/** A run at its first inference. */
export const firstStep = (runId: string): Step => ({
  runId,
  turn: 1,
  at: "inference",
  inferenceId: null,
  produced: Chunk.empty(),
  waiting: Chunk.empty(),
  open: HashSet.empty(),
  failed: null
})

/** A message waiting for a run (queued or steered). */
export interface Queued {
  readonly item: ContextItem.Message
  readonly event: Event.Event
}

/** The controller's state. */
export interface State {
  /** The run going, if any (until its `RunEnded`). */
  readonly running: string | null
  /** The step the run going is at; null once it is stopped. */
  readonly step: Step | null
  /** Messages waiting for the next run, oldest first. */
  readonly queue: Chunk.Chunk<Queued>
  /** Messages waiting for the next model call of the run going. */
  readonly steer: Chunk.Chunk<Queued>
  /** Messages kept out of the context until they are handled (queued or steered). */
  readonly deferred: HashSet.HashSet<string>
  /** Runs in a row triggered by agents without a human message in between. */
  readonly exchanges: number
}

export const initial: State = {
  running: null,
  step: null,
  queue: Chunk.empty(),
  steer: Chunk.empty(),
  deferred: HashSet.empty(),
  exchanges: 0
}

/** What the interpreter runs. */
export type Command = Data.TaggedEnum<{
  /** Publish an event as the agent. */
  Publish: { readonly payload: Event.Payload }
  /** Start run `runId` (its `RunStarted` is published before). */
  StartRun: { readonly runId: string }
  /** Start inference `turn` of the run (in the agent's `FiberHandle`). */
  StartInference: { readonly runId: string; readonly turn: number }
  /**
   * Start a call of the run at its stage (in the agent's `FiberMap`, keyed by run and call id). At
   * `awaiting_approval` (a call resumed after a restart) it only waits: its approval is pending
   * (`approvals.ts`).
   */
  StartCall: { readonly runId: string; readonly call: ContextItem.FunctionCall; readonly stage: Run.Stage }
  /** End the run by its own steps: its fibers gone, what it left open closed, its end published. */
  EndRun: { readonly runId: string; readonly ending: Run.Ending }
  /** Stop the run going: interrupt it, close what it left open, publish its end. */
  StopRun: { readonly reason: string }
}>

export const Command = Data.taggedEnum<Command>()

/** What the controller handles. */
export type Input = Data.TaggedEnum<{
  /** A message that starts a run (its hook did not ignore it). */
  Trigger: {
    readonly entry: Queued
    readonly fromAgent: boolean
    /** The message's busy policy, or the agent's. */
    readonly policy: Event.BusyPolicy
  }
  /** The agent's own `RunEnded`. */
  RunEnded: { readonly runId: string }
  /** An `InterruptRequested` for this agent. */
  Interrupt: { readonly runId: string | null; readonly by: string }
  /** Start the next run if idle (after a restore or at start). */
  Next: {}
  /** After a restart: run `runId`, cut while its calls waited, finishes them after inference `turn`. */
  Resumed: {
    readonly runId: string
    readonly turn: number
    readonly calls: ReadonlyArray<readonly [ContextItem.FunctionCall, Run.Stage]>
  }
  /** The agent's own event of run `runId`: how the run's steps report back. */
  Reported: { readonly runId: string; readonly payload: Event.Payload }
  /** A step of run `runId` died (a bug): the run fails. */
  Died: { readonly runId: string; readonly detail: string }
}>

export const Input = Data.taggedEnum<Input>()

/** The controller's settings. */
export interface Settings {
  readonly me: string
  readonly exchangeCap: number
  /** Most inferences in one run. */
  readonly maxTurns: number
  /** Calls of one turn running at once. */
  readonly concurrency: number
  /** How long a call waits for its approval before it is rejected (none: until it is answered). */
  readonly approvalTimeout?: Duration.Duration | undefined
}

export type Transition = readonly [State, ReadonlyArray<Command>]

export const without = (set: HashSet.HashSet<string>, entries: Iterable<Queued>): HashSet.HashSet<string> =>
  HashSet.mutate(set, (mutable) => {
    for (const entry of entries) HashSet.remove(mutable, entry.item.id)
  })

const runIdOf = (me: string, entry: Queued) => `${me}_run_${entry.event.sequence}`

/** Starts the next run if idle: steered input left over goes first, then the whole queue as one batch. */
export const next = (settings: Settings, state: State): Transition => {
  if (state.running !== null) return [state, []]
  const { me } = settings
  const commands: Array<Command> = []
  let queue = state.queue
  // Steered messages that found no model call left in their run are handled next, first.
  for (const entry of Chunk.reverse(state.steer)) {
    queue = Chunk.prepend(queue, entry)
    commands.push(Command.Publish({ payload: new Event.InputQueued({ participant: me, itemId: entry.item.id, position: 1 }) }))
  }
  if (Chunk.isEmpty(queue)) return [{ ...state, steer: Chunk.empty(), queue }, commands]
  const first = Chunk.unsafeHead(queue)
  const runId = runIdOf(me, first)
  const dequeued = Chunk.filter(queue, (entry) => HashSet.has(state.deferred, entry.item.id))
  for (const entry of dequeued) {
    commands.push(Command.Publish({ payload: new Event.InputDequeued({ participant: me, itemId: entry.item.id, runId }) }))
  }
  commands.push(
    Command.Publish({ payload: new Event.RunStarted({ participant: me, runId, trigger: first.item.id }) }),
    Command.StartRun({ runId }),
    Command.StartInference({ runId, turn: 1 })
  )
  return [
    {
      ...state,
      running: runId,
      step: firstStep(runId),
      steer: Chunk.empty(),
      queue: Chunk.empty(),
      deferred: without(state.deferred, dequeued)
    },
    commands
  ]
}

const trigger = (settings: Settings, state: State, input: Extract<Input, { _tag: "Trigger" }>): Transition => {
  const { me } = settings
  const { entry } = input
  const item = entry.item
  let exchanges = 0
  if (input.fromAgent) {
    if (state.exchanges >= settings.exchangeCap) {
      return [state, [
        Command.Publish({
          payload: new Event.RunEnded({
            participant: me,
            runId: runIdOf(me, entry),
            outcome: "exchange_cap",
            detail: `${state.exchanges} runs in a row were triggered by agents without a human message`
          })
        })
      ]]
    }
    exchanges = state.exchanges + 1
  }
  const counted = { ...state, exchanges }
  if (state.running === null) {
    const runId = runIdOf(me, entry)
    return [{ ...counted, running: runId, step: firstStep(runId) }, [
      Command.Publish({ payload: new Event.RunStarted({ participant: me, runId, trigger: item.id }) }),
      Command.StartRun({ runId }),
      Command.StartInference({ runId, turn: 1 })
    ]]
  }
  const deferred = HashSet.add(state.deferred, item.id)
  switch (input.policy) {
    case "queue": {
      const queue = Chunk.append(state.queue, entry)
      return [{ ...counted, deferred, queue }, [
        Command.Publish({ payload: new Event.InputQueued({ participant: me, itemId: item.id, position: Chunk.size(queue) }) })
      ]]
    }
    case "steer":
      return [{ ...counted, deferred, steer: Chunk.append(state.steer, entry) }, []]
    case "interrupt": {
      const stopped: State = { ...counted, deferred, queue: Chunk.prepend(state.queue, entry), running: null, step: null }
      const [after, started] = next(settings, stopped)
      return [after, [
        Command.Publish({ payload: new Event.InputQueued({ participant: me, itemId: item.id, position: 1 }) }),
        Command.StopRun({ reason: `interrupted by a message from ${item.author}` }),
        ...started
      ]]
    }
    case "drop":
      return [counted, [
        Command.Publish({ payload: new Event.InputDropped({ participant: me, itemId: item.id, reason: "the agent was busy" }) })
      ]]
  }
}

/** The pure transition: the next state and the commands to run, in order. */
export const decide = (settings: Settings, state: State, input: Input): Transition => {
  const { me } = settings
  switch (input._tag) {
    case "Trigger":
      return trigger(settings, state, input)
    case "Next":
      return next(settings, state)
    case "RunEnded":
      // The run going has ended (its fiber published it): the next input may start.
      return state.running === input.runId ? next(settings, { ...state, running: null, step: null }) : [state, []]
    case "Interrupt": {
      if (state.running === null) {
        return [state, [
          Command.Publish({ payload: new Event.InterruptIgnored({ participant: me, runId: input.runId, reason: "the agent is idle" }) })
        ]]
      }
      if (input.runId !== null && input.runId !== state.running) {
        return [state, [
          Command.Publish({
            payload: new Event.InterruptIgnored({ participant: me, runId: input.runId, reason: "that run has already ended" })
          })
        ]]
      }
      const [after, started] = next(settings, { ...state, running: null, step: null })
      return [after, [Command.StopRun({ reason: `interrupted by ${input.by}` }), ...started]]
    }
    case "Resumed":
    case "Reported":
    case "Died":
      return Steps.decide(settings, state, input)
  }
}

/** After a restart: the queued input found in the journal. */
export const restored = (state: State, queued: ReadonlyArray<Queued>): State => ({
  ...state,
  queue: Chunk.appendAll(state.queue, Chunk.fromIterable(queued)),
  deferred: HashSet.union(state.deferred, HashSet.fromIterable(queued.map((entry) => entry.item.id)))
})
