/**
 * Live projections: reducers whose state the environment keeps current as it
 * publishes, so reading one is O(1).
 *
 * A reducer is registered once (by identity). Registering replays the journal
 * up to the last sequence published at that moment; events published while
 * that replay runs are buffered and folded after it, so the state covers
 * every event once, in order. Each publish then folds the event into every
 * registered state, in the publish step itself.
 *
 * @internal
 */
import { Deferred, Effect, Exit, FiberId, Stream } from "effect"
import type * as Event from "../../Event.js"
import type * as Journal from "../../Journal.js"
import type * as Reducer from "../../Reducer.js"

type ReplayError = Journal.JournalError | Journal.JournalCorrupted

interface Entry {
  readonly reducer: Reducer.Reducer<unknown>
  state: unknown
  /** Events published while the journal replay runs; undefined once live. */
  buffer: Array<Event.Event> | undefined
  readonly ready: Deferred.Deferred<void, ReplayError>
}

export interface Projections {
  /** Folds a published event into every registered state. */
  readonly apply: (event: Event.Event) => void
  /** The reducer's current state, registering it on first use. */
  readonly get: <S>(reducer: Reducer.Reducer<S>) => Effect.Effect<S, ReplayError>
  /** The reducer's state if registered and live: O(1), no effect. */
  readonly current: <S>(reducer: Reducer.Reducer<S>) => { readonly state: S } | undefined
}

export const make = (options: {
  readonly last: () => number
  /** Events in `[0, to]` from the journal (of these kinds when given), once they are durable. */
  readonly history: (to: number, kinds: Reducer.Reducer<unknown>["kinds"]) => Stream.Stream<Event.Event, ReplayError>
}): Projections => {
  const entries = new Map<Reducer.Reducer<unknown>, Entry>()

  const apply = (event: Event.Event) => {
    if (entries.size === 0) return
    for (const entry of entries.values()) {
      if (entry.buffer !== undefined) entry.buffer.push(event)
      else entry.state = entry.reducer.reduce(entry.state, event)
    }
  }

  const register = (reducer: Reducer.Reducer<unknown>): Entry => {
    const last = options.last()
    const entry: Entry = {
      reducer,
      state: reducer.initial,
      buffer: last < 0 ? undefined : [],
      ready: Deferred.unsafeMake(FiberId.none)
    }
    entries.set(reducer, entry)
    if (last < 0) {
      Deferred.unsafeDone(entry.ready, Exit.void)
      return entry
    }
    // Replayed by the first caller (see `get`); the others wait on `ready`.
    return entry
  }

  const catchUp = (entry: Entry, last: number) =>
    Stream.runFold(options.history(last, entry.reducer.kinds), entry.reducer.initial, entry.reducer.reduce).pipe(
      Effect.map((state) => {
        for (const event of entry.buffer ?? []) state = entry.reducer.reduce(state, event)
        entry.state = state
        entry.buffer = undefined
      }),
      Effect.onExit((exit) => {
        // A failed replay unregisters the reducer: the next caller tries again.
        if (Exit.isFailure(exit)) entries.delete(entry.reducer)
        return Deferred.done(entry.ready, Exit.asVoid(exit))
      })
    )

  const get = <S>(reducer: Reducer.Reducer<S>): Effect.Effect<S, ReplayError> =>
    Effect.suspend(() => {
      const key = reducer as Reducer.Reducer<unknown>
      const known = entries.get(key)
      if (known !== undefined) {
        if (known.buffer === undefined) return Effect.succeed(known.state as S)
        return Effect.map(Deferred.await(known.ready), () => known.state as S)
      }
      const last = options.last()
      const entry = register(key)
      if (entry.buffer === undefined) return Effect.succeed(entry.state as S)
      return Effect.map(catchUp(entry, last), () => entry.state as S)
    })

  const current = <S>(reducer: Reducer.Reducer<S>) => {
    const entry = entries.get(reducer as Reducer.Reducer<unknown>)
    return entry === undefined || entry.buffer !== undefined ? undefined : { state: entry.state as S }
  }

  return { apply, get, current }
}
