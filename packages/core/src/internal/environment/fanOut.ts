/**
 * The fan-out: every live subscriber's mailbox, each event offered to each.
 *
 * Adding and removing a mailbox is O(1) (arrays with an index, see
 * `Members`); delivering an event costs one `offer` per mailbox that may
 * want it — an array push, or nothing when
 * the mailbox's filter refuses it — and wakes only the readers that were
 * waiting. Mailboxes that declare the kinds of event they take (`kinds`) are
 * indexed by kind: an event of another kind costs them nothing, so a publish
 * (a join, a leave) stays O(1) however many such members there are. Kinds
 * taken only when addressed to a member are indexed by addressee: one entry
 * per member holding a set of those kinds shared by every member that declares
 * the same list (an idle agent's cost). The mailbox (`../mailbox.ts`) bounds a
 * lagging reader's memory.
 *
 * @internal
 */
import type * as Event from "../../Event.js"
import { Mailbox } from "../mailbox.js"

/**
 * Which events a mailbox takes: of these kinds (all when absent), and passing `accepts` (all when absent).
 * With `kinds`, events of the `addressed` kinds are taken only when addressed to `id`
 * (`payload.participant`): indexed by kind and participant, so a join announcement or another
 * member's run events cost the other members nothing.
 */
export interface Filter {
  readonly id?: string | undefined
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  readonly addressed?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
}

export interface FanOut {
  readonly open: (filter: Filter) => Mailbox
  readonly close: (mailbox: Mailbox) => void
  readonly deliver: (event: Event.Event) => void
  readonly closeAll: () => void
}

/**
 * Mailboxes in an array, each knowing its index: O(1) add and remove (the
 * last one moves into the hole), and delivery is a plain indexed loop (no
 * iterator object per event, as `for…of` over a `Set` would make).
 */
class Members {
  readonly items: Array<Mailbox> = []
  private readonly index = new Map<Mailbox, number>()

  add(mailbox: Mailbox): void {
    if (this.index.has(mailbox)) return
    this.index.set(mailbox, this.items.length)
    this.items.push(mailbox)
  }

  delete(mailbox: Mailbox): boolean {
    const at = this.index.get(mailbox)
    if (at === undefined) return false
    this.index.delete(mailbox)
    const last = this.items.pop()!
    if (last !== mailbox) {
      this.items[at] = last
      this.index.set(last, at)
    }
    return true
  }

  clear(): void {
    this.items.length = 0
    this.index.clear()
  }
}

const offerAll = (members: Members, event: Event.Event) => {
  const items = members.items
  for (let i = 0; i < items.length; i++) items[i]!.offer(event)
}

/**
 * The registrations taking one kind, in an array: O(1) add and remove like
 * `Members`, each registration keeping its position in `positions` (aligned
 * with its `kinds`) instead of an index `Map` per kind.
 */
class KindMembers {
  readonly items: Array<Registration> = []

  constructor(readonly kind: string) {}

  add(registration: Registration, slot: number): void {
    registration.positions[slot] = this.items.length
    this.items.push(registration)
  }

  delete(registration: Registration, slot: number): void {
    const at = registration.positions[slot]!
    const last = this.items.pop()!
    if (last !== registration) {
      this.items[at] = last
      last.positions[last.kinds.indexOf(this.kind)] = at
    }
  }
}

/** What a mailbox that declared `kinds` registered: removed in one step when it closes. */
interface Registration {
  readonly mailbox: Mailbox
  readonly kinds: ReadonlyArray<string>
  /** Its position in each kind's `KindMembers`, aligned with `kinds`. */
  readonly positions: Array<number>
  readonly id: string | undefined
  /** The kinds it takes only when addressed to `id` (one shared set per distinct list). */
  readonly addressed: ReadonlySet<string> | undefined
}

export const make = (coalesceAfter: number): FanOut => {
  const everything = new Members()
  const byKind = new Map<string, KindMembers>()
  const registered = new Map<Mailbox, Registration>()
  // Addressee → its registrations (usually one): one entry per member, not one collection per addressed kind.
  const byAddressee = new Map<string, Array<Registration>>()
  // Every kind some mailbox took addressed: other kinds skip the addressee lookup.
  const addressedKinds = new Set<string>()
  // One set per distinct list of addressed kinds, shared by the members that declare it.
  const kindSets = new Map<string, ReadonlySet<string>>()
  const kindSet = (kinds: ReadonlyArray<string>) => {
    const key = kinds.join(",")
    let set = kindSets.get(key)
    if (set === undefined) {
      kindSets.set(key, set = new Set(kinds))
      for (const kind of kinds) addressedKinds.add(kind)
    }
    return set
  }
  const unaddress = (registration: Registration) => {
    const registrations = byAddressee.get(registration.id!)
    if (registrations === undefined) return
    const at = registrations.indexOf(registration)
    if (at === -1) return
    if (registrations.length === 1) byAddressee.delete(registration.id!)
    else registrations.splice(at, 1)
  }
  return {
    open: (filter) => {
      const mailbox = new Mailbox(coalesceAfter, filter.accepts)
      if (filter.kinds === undefined) {
        everything.add(mailbox)
        return mailbox
      }
      const addressed = filter.id !== undefined && filter.addressed !== undefined && filter.addressed.length > 0
        ? kindSet(filter.addressed)
        : undefined
      // A kind listed twice is taken once.
      const kinds = new Set(filter.kinds).size === filter.kinds.length ? filter.kinds : Array.from(new Set(filter.kinds))
      const registration: Registration = { mailbox, kinds, positions: new Array(kinds.length), id: filter.id, addressed }
      registered.set(mailbox, registration)
      for (let slot = 0; slot < kinds.length; slot++) {
        let members = byKind.get(kinds[slot]!)
        if (members === undefined) byKind.set(kinds[slot]!, members = new KindMembers(kinds[slot]!))
        members.add(registration, slot)
      }
      if (addressed !== undefined) {
        const registrations = byAddressee.get(filter.id!)
        if (registrations === undefined) byAddressee.set(filter.id!, [registration])
        else registrations.push(registration)
      }
      return mailbox
    },
    close: (mailbox) => {
      mailbox.close()
      if (everything.delete(mailbox)) return
      const registration = registered.get(mailbox)
      if (registration === undefined) return
      registered.delete(mailbox)
      for (let slot = 0; slot < registration.kinds.length; slot++) byKind.get(registration.kinds[slot]!)!.delete(registration, slot)
      if (registration.addressed !== undefined) unaddress(registration)
    },
    deliver: (event) => {
      offerAll(everything, event)
      if (byKind.size === 0) return
      const kind = event.payload._tag
      const interested = byKind.get(kind)?.items
      if (interested !== undefined) for (let i = 0; i < interested.length; i++) interested[i]!.mailbox.offer(event)
      if (!addressedKinds.has(kind)) return
      const addressee = (event.payload as { readonly participant?: unknown }).participant
      if (typeof addressee !== "string") return
      const registrations = byAddressee.get(addressee)
      if (registrations === undefined) return
      for (let i = 0; i < registrations.length; i++) {
        const registration = registrations[i]!
        if (registration.addressed!.has(kind)) registration.mailbox.offer(event)
      }
    },
    closeAll: () => {
      for (const mailbox of everything.items) mailbox.close()
      for (const mailbox of registered.keys()) mailbox.close()
      everything.clear()
      byKind.clear()
      registered.clear()
      byAddressee.clear()
    }
  }
}
