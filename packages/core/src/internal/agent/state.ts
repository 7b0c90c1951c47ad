/**
 * The agent's state, as data: its history (`history.ts`, the fold of every event it has received,
 * replayed or live) and its controller's state (`controller.ts`: the run going and its step, the
 * queue, the steered input, the exchange count). Two pure functions change it:
 *
 * - `evolve(state, event)`: folds an event into the history — the same function on the journal at
 *   resume and on live events, so resume and live handling cannot disagree;
 * - `decide(state, input)`: the controller's decision — the next state and the commands to run —
 *   with what approvals add to it (`approvals.ts`), or the decision on an approval's input.
 *
 * The controller fiber evolves and decides; a step of a run only reads the state, and may wait
 * until the history has folded what the agent published itself.
 *
 * @internal
 */
import { Deferred, Effect, Ref } from "effect"
import type * as Event from "../../Event.js"
import type * as Reducer from "../../Reducer.js"
import * as Approvals from "./approvals.js"
import * as Controller from "./controller.js"
import type * as History from "./history.js"

/** The agent's state. */
export interface State {
  readonly history: History.History
  readonly controller: Controller.State
  /** The approvals of the run going (`approvals.ts`). */
  readonly approvals: Approvals.State
  /** The sequence of the last event folded, -1 before the first. */
  readonly sequence: number
  /** A step waiting for the history to reach a sequence (at most one: the inference starting). */
  readonly waiter: { readonly sequence: number; readonly deferred: Deferred.Deferred<void> } | null
}

export const initial = (history: History.History): State => ({
  history,
  controller: Controller.initial,
  approvals: Approvals.initial,
  sequence: -1,
  waiter: null
})

/** Folds one event into the history: pure, the same live and on resume. */
export const evolve = (reducer: Reducer.Reducer<History.History>, state: State, event: Event.Event): State => ({
  ...state,
  history: reducer.reduce(state.history, event),
  sequence: event.sequence
})

/** What the agent decides on: the controller's inputs and approvals'. */
export type Input = Controller.Input | Approvals.Input

/** What the interpreter runs. */
export type Command = Controller.Command | Approvals.Command

/** The decision on the state: the next state and the commands to run, in order. */
export const decide = (
  settings: Controller.Settings,
  state: State,
  input: Input
): readonly [State, ReadonlyArray<Command>] => {
  if (Approvals.isInput(input)) {
    const [approvals, commands] = Approvals.decide(settings, state.controller, state.approvals, input)
    return [{ ...state, approvals }, commands]
  }
  const [controller, commands] = Controller.decide(settings, state.controller, input)
  const [approvals, more] = Approvals.react(settings, controller, state.approvals, input, commands)
  return [{ ...state, controller, approvals }, more.length === 0 ? commands : [...commands, ...more]]
}

/** Evolves the state held in `ref` by one event; releases a waiter whose sequence is reached. Returns the history. */
export const fold = (
  ref: Ref.Ref<State>,
  reducer: Reducer.Reducer<History.History>,
  event: Event.Event
): Effect.Effect<History.History> =>
  Effect.flatMap(
    Ref.modify(ref, (state) => {
      const next = evolve(reducer, state, event)
      const released = state.waiter !== null && event.sequence >= state.waiter.sequence ? state.waiter : null
      return [[next.history, released] as const, released === null ? next : { ...next, waiter: null }] as const
    }),
    ([history, released]) => released === null ? Effect.succeed(history) : Effect.as(Deferred.succeed(released.deferred, undefined), history)
  )

/** Waits until the history has folded `sequence`. */
export const await_ = (ref: Ref.Ref<State>, sequence: number): Effect.Effect<void> =>
  Effect.flatMap(Ref.get(ref), (state) => {
    if (state.sequence >= sequence) return Effect.void
    return Effect.flatMap(Deferred.make<void>(), (deferred) =>
      Effect.flatten(Ref.modify(ref, (current) =>
        current.sequence >= sequence
          ? [Effect.void, current] as const
          : [Deferred.await(deferred), { ...current, waiter: { sequence, deferred } }] as const)))
  })

export { await_ as await }
