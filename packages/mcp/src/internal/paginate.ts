// Every list request pages through cursors the same way: until no cursor (or the same cursor again), and at most
// `maxPages` pages, so that a server that never stops cannot keep the client busy forever.
import { Effect } from "effect"
import { McpServerError } from "./error.js"

const maxPages = 1_000

export const paginate = <Page, Item, R>(
  server: string,
  method: string,
  fetchPage: (cursor: string | undefined) => Effect.Effect<Page, McpServerError, R>,
  items: (page: Page) => ReadonlyArray<Item>,
  next: (page: Page) => string | undefined
): Effect.Effect<ReadonlyArray<Item>, McpServerError, R> =>
  Effect.gen(function*() {
    const all: Array<Item> = []
    let cursor: string | undefined = undefined
    for (let page = 0; page < maxPages; page++) {
      const result: Page = yield* fetchPage(cursor)
      all.push(...items(result))
      const following = next(result)
      if (following === undefined || following === cursor) return all
      cursor = following
    }
    return yield* McpServerError.of(server, "malformed_response", `${method} returned more than ${maxPages} pages.`)
  })
