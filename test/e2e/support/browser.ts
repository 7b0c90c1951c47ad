import * as Fs from "node:fs"
import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
import { chromium } from "playwright-core"
import type * as Playwright from "playwright-core"

/** Where Debian's chromium lives (installed by scripts/ensure-system-packages.sh). */
export const executablePath = "/usr/bin/chromium"

/** A browser call failed, or a page never reached the state a test waited for. */
export class BrowserError extends Data.TaggedError("BrowserError")<{ readonly detail: string; readonly cause?: unknown }> {
  override get message() {
    return this.detail
  }
}

/** A headless Chromium shared by the tests of a file. */
export class Browser extends Context.Tag("test/e2e/Browser")<Browser, Playwright.Browser>() {}

/** Launches headless Chromium; closes it with the layer. */
export const layer = Layer.scoped(
  Browser,
  Effect.acquireRelease(
    Effect.suspend(() =>
      Fs.existsSync(executablePath)
        ? use(`launch ${executablePath}`, () =>
          chromium.launch({
            executablePath,
            args: [
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-quic",
              "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync"
            ]
          }))
        : Effect.fail(new BrowserError({ detail: `${executablePath} is missing: run scripts/ensure-system-packages.sh` }))
    ),
    (browser) => Effect.promise(() => browser.close())
  )
)

/** A browser call as an effect. */
export const use = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new BrowserError({ detail: `${what}: ${String(cause)}`, cause }) })

/** A browser context (one window, its tabs share cookies), closed with the scope. */
export const makeContext = (viewport: { readonly width: number; readonly height: number } = { width: 1000, height: 760 }) =>
  Effect.flatMap(Browser, (browser) =>
    Effect.acquireRelease(
      use("new context", () => browser.newContext({ viewport })),
      (context) => Effect.promise(() => context.close())
    ))

/** A browser context of the default size. */
export const context = makeContext()

/** Opens a tab on `url`. */
export const open = (context: Playwright.BrowserContext, url: string) =>
  use(`open ${url}`, async () => {
    const page = await context.newPage()
    await page.goto(url)
    return page
  })

/**
 * Polls `check` until it gives a value (not undefined), or fails after `timeout` with `what` in the message.
 * Waiting for a state, not asserting on time: the timeout only bounds a test that would hang.
 */
export const until = <A>(
  what: string,
  check: () => Promise<A | undefined>,
  options?: { readonly timeout?: Duration.DurationInput; readonly every?: Duration.DurationInput }
): Effect.Effect<A, BrowserError> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(options?.timeout ?? "20 seconds")
    while (true) {
      const value = yield* use(what, check)
      if (value !== undefined) return value
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* new BrowserError({ detail: `timed out waiting until ${what}` })
      yield* Effect.sleep(options?.every ?? "25 millis")
    }
  })
