/**
 * The agent's history as it folds it: the events it has received, live and replayed, folded by
 * the one reducer resume uses (`history.ts`), and the sequence it has reached. A run that needs
 * the history to include what the agent itself just published waits for that sequence.
 *
 * The controller fiber folds; the run fiber only reads and waits.
 *
 * @internal
 */
import { Deferred, Effect, Ref } from "effect"
import type * as Event from "../../Event.js"
import type * as Reducer from "../../Reducer.js"
import type * as History from "./history.js"

/** The fold so far, and the run waiting for it to reach a sequence (at most one: the run going). */
export interface Folded {
  readonly history: History.History
  /** The sequence of the last event folded, -1 before the first. */
  readonly sequence: number
  readonly waiter: { readonly sequence: number; readonly deferred: Deferred.Deferred<void> } | null
}

export const initial = (history: History.History): Folded => ({ history, sequence: -1, waiter: null })

/** Folds one event; releases the waiter once its sequence is reached. Returns the new history. */
export const fold = (
  ref: Ref.Ref<Folded>,
  reducer: Reducer.Reducer<History.History>,
  event: Event.Event
): Effect.Effect<History.History> =>
  Effect.flatMap(
    Ref.modify(ref, (state) => {
      const history = reducer.reduce(state.history, event)
      const released = state.waiter !== null && event.sequence >= state.waiter.sequence ? state.waiter : null
      return [
        [history, released] as const,
        { history, sequence: event.sequence, waiter: released === null ? state.waiter : null }
      ] as const
    }),
    ([history, released]) => released === null ? Effect.succeed(history) : Effect.as(Deferred.succeed(released.deferred, undefined), history)
  )

/** Waits until the fold has reached `sequence`. */
export const await_ = (ref: Ref.Ref<Folded>, sequence: number): Effect.Effect<void> =>
  Effect.flatMap(Ref.get(ref), (state) => {
    if (state.sequence >= sequence) return Effect.void
    return Effect.flatMap(Deferred.make<void>(), (deferred) =>
      Effect.flatten(Ref.modify(ref, (current) =>
        current.sequence >= sequence
          ? [Effect.void, current] as const
          : [Deferred.await(deferred), { ...current, waiter: { sequence, deferred } }] as const)))
  })

export { await_ as await }
