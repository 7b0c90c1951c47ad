/**
 * The fan-out: every live subscriber's mailbox, each event offered to each.
 *
 * Adding and removing a mailbox is O(1) (arrays with an index, see
 * `Members`); delivering an event costs one `offer` per mailbox that may
 * want it — an array push, or nothing when
 * the mailbox's filter refuses it — and wakes only the readers that were
 * waiting. Mailboxes that declare the kinds of event they take (`kinds`) are
 * indexed by kind: an event of another kind costs them nothing, so a publish
 * (a join, a leave) stays O(1) however many such members there are. The
 * mailbox (`../mailbox.ts`) bounds a lagging reader's memory.
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

export const make = (coalesceAfter: number): FanOut => {
  const everything = new Members()
  const byKind = new Map<string, Members>()
  const kindsOf = new Map<Mailbox, ReadonlyArray<string>>()
  // kind → addressee → mailboxes; and what each mailbox registered there.
  const byAddress = new Map<string, Map<string, Members>>()
  const addressOf = new Map<Mailbox, { readonly id: string; readonly kinds: ReadonlyArray<string> }>()
  const unaddress = (mailbox: Mailbox) => {
    const address = addressOf.get(mailbox)
    if (address === undefined) return
    addressOf.delete(mailbox)
    for (const kind of address.kinds) {
      const table = byAddress.get(kind)
      const members = table?.get(address.id)
      if (members === undefined) continue
      members.delete(mailbox)
      if (members.items.length === 0) table!.delete(address.id)
    }
  }
  return {
    open: (filter) => {
      const mailbox = new Mailbox(coalesceAfter, filter.accepts)
      if (filter.kinds === undefined) {
        everything.add(mailbox)
        return mailbox
      }
      kindsOf.set(mailbox, filter.kinds)
      for (const kind of filter.kinds) {
        let members = byKind.get(kind)
        if (members === undefined) byKind.set(kind, members = new Members())
        members.add(mailbox)
      }
      if (filter.id !== undefined && filter.addressed !== undefined && filter.addressed.length > 0) {
        addressOf.set(mailbox, { id: filter.id, kinds: filter.addressed })
        for (const kind of filter.addressed) {
          let table = byAddress.get(kind)
          if (table === undefined) byAddress.set(kind, table = new Map())
          let members = table.get(filter.id)
          if (members === undefined) table.set(filter.id, members = new Members())
          members.add(mailbox)
        }
      }
      return mailbox
    },
    close: (mailbox) => {
      mailbox.close()
      if (everything.delete(mailbox)) return
      const kinds = kindsOf.get(mailbox)
      if (kinds === undefined) return
      kindsOf.delete(mailbox)
      for (const kind of kinds) byKind.get(kind)?.delete(mailbox)
      unaddress(mailbox)
    },
    deliver: (event) => {
      offerAll(everything, event)
      if (byKind.size === 0) return
      const interested = byKind.get(event.payload._tag)
      if (interested !== undefined) offerAll(interested, event)
      if (byAddress.size === 0) return
      const table = byAddress.get(event.payload._tag)
      if (table === undefined) return
      const addressee = (event.payload as { readonly participant?: unknown }).participant
      const members = typeof addressee === "string" ? table.get(addressee) : undefined
      if (members !== undefined) offerAll(members, event)
    },
    closeAll: () => {
      for (const mailbox of everything.items) mailbox.close()
      for (const mailbox of kindsOf.keys()) mailbox.close()
      everything.clear()
      byKind.clear()
      kindsOf.clear()
      byAddress.clear()
      addressOf.clear()
    }
  }
}
