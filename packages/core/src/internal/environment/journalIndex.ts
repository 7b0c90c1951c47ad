/**
 * An index of the journal for joins: where each kind of event first appears,
 * and where each participant id first appears (as the author of an event or
 * its addressee, `payload.participant`). A participant that folds only what
 * it takes live and what it published itself (`replayTaken`: an agent) then
 * replays only those events, from the first one that may pass its filter,
 * and nothing when there is none: N agents joining an environment cost O(N),
 * not O(N²) replayed events.
 *
 * It is a pure reducer kept live as one of the environment's projections
 * (registered on the first such join: one replay of the journal, then one
 * property lookup per publish). It returns its state unchanged for every
 * event of a kind it has seen that addresses nobody new, so publishing a
 * delta allocates nothing.
 *
 * @internal
 */
import { HashMap, Option } from "effect"
import type * as Event from "../../Event.js"
import * as Reducer from "../../Reducer.js"
import type { Filter } from "./fanOut.js"

export interface Index {
  /** The first sequence of each kind of event. */
  readonly kinds: Readonly<Record<string, number>>
  /** The first sequence of an event authored by or addressed to each participant id. */
  readonly participants: HashMap.HashMap<string, number>
  /** The author of the last event (known): a run of events by one author costs one comparison each. */
  readonly lastAuthor: string
}

const addresseeOf = (payload: Event.Payload): string | undefined => {
  const addressee = (payload as { readonly participant?: unknown }).participant
  return typeof addressee === "string" ? addressee : undefined
}

const note = (participants: HashMap.HashMap<string, number>, id: string | undefined, sequence: number) =>
  id === undefined || HashMap.has(participants, id) ? participants : HashMap.set(participants, id, sequence)

export const reducer: Reducer.Reducer<Index> = Reducer.make<Index>(
  { kinds: {}, participants: HashMap.empty(), lastAuthor: "" },
  (index, event) => {
    const tag = event.payload._tag
    const kinds = tag in index.kinds ? index.kinds : { ...index.kinds, [tag]: event.sequence }
    const author = event.author === index.lastAuthor ? undefined : event.author
    const participants = note(note(index.participants, author, event.sequence), addresseeOf(event.payload), event.sequence)
    return kinds === index.kinds && participants === index.participants && author === undefined
      ? index
      : { kinds, participants, lastAuthor: event.author }
  }
)

/** Whether a participant with this filter replays the event: it takes it live (the fan-out's rule), or published it. */
export const replays = (filter: Filter, event: Event.Event): boolean => {
  if (filter.id !== undefined && event.author === filter.id) return true
  const tag = event.payload._tag
  const taken = filter.kinds === undefined || filter.kinds.includes(tag) ||
    (filter.addressed !== undefined && filter.addressed.includes(tag) && addresseeOf(event.payload) === filter.id)
  return taken && (filter.accepts === undefined || filter.accepts(event))
}

/**
 * The first sequence at which the journal may hold an event this participant replays (a lower
 * bound), or undefined when it holds none. Without `kinds`, anything may pass: 0.
 */
export const firstReplayed = (index: Index, filter: Filter): number | undefined => {
  if (filter.kinds === undefined) return 0
  let first: number | undefined = undefined
  const earliest = (sequence: number | undefined) => {
    if (sequence !== undefined && (first === undefined || sequence < first)) first = sequence
  }
  for (const kind of filter.kinds) earliest(index.kinds[kind])
  if (filter.id !== undefined) earliest(Option.getOrUndefined(HashMap.get(index.participants, filter.id)))
  return first
}
