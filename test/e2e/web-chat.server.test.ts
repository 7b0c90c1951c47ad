/**
 * The web chat on `@chorus/server`, in headless Chromium: each finding of issue 17 as a test — restarts on the same
 * and on a new journal, the first paint from the snapshot, a bad POST that reaches no tab, Markdown (sanitised),
 * Escape, the growing textarea, the model shown, the phone layout — and an OpenAI client on the same conversation.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import type * as Playwright from "playwright-core"
import * as Script from "../../examples/web-chat/Script.js"
import * as Browser from "./support/browser.js"
import * as Chat from "./support/webChat.js"

interface Shown {
  readonly kind: string
  readonly text: string
  readonly status: string | null
}

const shownScript = `[...document.querySelectorAll("#transcript .item")].map((el) => ({
  kind: el.dataset.kind,
  status: el.dataset.status ?? null,
  text: el.querySelector(".text, .args")?.textContent ?? ""
}))`
const shown = (page: Playwright.Page) => Browser.use("read the transcript", () => page.evaluate<Array<Shown>>(shownScript))

const openTab = (context: Playwright.BrowserContext, url: string) =>
  Effect.gen(function*() {
    const page = yield* Browser.open(context, url)
    // Attached, not visible: a phone layout hides the connection chip.
    yield* Browser.use("connect", () => page.locator("#connection[data-state=live]").waitFor({ state: "attached" }))
    return page
  })

const send = (page: Playwright.Page, text: string) =>
  Browser.use(`send "${text}"`, async () => {
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
  })

const caughtUp = (page: Playwright.Page, env: Chat.Env) =>
  Effect.gen(function*() {
    const last = yield* env.lastSequence
    yield* Browser.until(`the tab has received event ${last}`, async () => {
      const seen = Number(await page.locator("body").getAttribute("data-last-sequence") ?? "-1")
      return seen >= last ? seen : undefined
    })
  })

const runsEnded = (env: Chat.Env, count: number) => {
  let seen = 0
  return Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded" && ++seen === count))
}

const turn = (question: string): ReadonlyArray<Shown> => [
  { kind: "user", status: "completed", text: question },
  { kind: "reasoning", status: "completed", text: "A question. I will answer it at length so the streaming is easy to follow." },
  { kind: "model", status: "completed", text: Script.answerFor(question) }
]

const screenshots = fileURLToPath(new URL("./screenshots/", import.meta.url))

describe("web-chat on @chorus/server", () => {
  it.live("a restart on the same journal: the open tab goes on, nothing doubled; a fresh tab shows the same", () =>
    Effect.gen(function*() {
      const dir = yield* Chat.tempDirectory
      const journal = Path.join(dir, "chat.jsonl")
      const first = yield* Chat.startOnJournal({ journal, sandbox: dir, latency: "2 millis" })
      const context = yield* Browser.context
      const tab = yield* openTab(context, first.web.url)
      yield* send(tab, "First question")
      yield* runsEnded(first.env, 1)
      yield* caughtUp(tab, first.env)
      yield* first.stop
      yield* Browser.until("the tab notices", async () =>
        (await tab.locator("#connection").getAttribute("data-state")) === "reconnecting" ? true : undefined)

      const second = yield* Chat.startOnJournal({ journal, sandbox: dir, port: first.web.port, latency: "2 millis" })
      yield* Browser.use("the tab reconnects", () => tab.locator("#connection[data-state=live]").waitFor({ timeout: 15_000 }))
      // The restarted environment replays the first run's end: wait for the next one.
      const from = (yield* second.env.lastSequence) + 1
      yield* send(tab, "Second question")
      yield* Effect.orDie(second.env.waitFor((event) => event.payload._tag === "RunEnded", { from }))
      yield* caughtUp(tab, second.env)
      const expected = [...turn("First question"), ...turn("Second question")]
      assert.deepStrictEqual(yield* shown(tab), expected)
      const fresh = yield* openTab(context, second.web.url)
      assert.deepStrictEqual(yield* shown(fresh), expected)
      yield* second.stop
    }).pipe(Effect.scoped, Effect.provide(Browser.layer)))

  it.live("a restart on a new journal resets the open tab instead of mixing two histories", () =>
    Effect.gen(function*() {
      const dir = yield* Chat.tempDirectory
      const first = yield* Chat.startOnJournal({ journal: Path.join(dir, "one.jsonl"), sandbox: dir, latency: "2 millis" })
      const context = yield* Browser.context
      const tab = yield* openTab(context, first.web.url)
      yield* send(tab, "First question")
      yield* runsEnded(first.env, 1)
      yield* caughtUp(tab, first.env)
      const oldJournal = yield* Browser.use("journal", () => tab.locator("body").getAttribute("data-journal"))
      yield* first.stop

      const second = yield* Chat.startOnJournal({
        journal: Path.join(dir, "two.jsonl"),
        sandbox: dir,
        port: first.web.port,
        latency: "2 millis"
      })
      yield* Browser.until("the tab is on the new journal", async () => {
        const journal = await tab.locator("body").getAttribute("data-journal")
        return journal !== oldJournal && journal !== "" && journal !== null ? journal : undefined
      }, { timeout: "15 seconds" })
      yield* Browser.use("live", () => tab.locator("#connection[data-state=live]").waitFor())
      yield* send(tab, "Hello again")
      yield* runsEnded(second.env, 1)
      yield* caughtUp(tab, second.env)
      assert.deepStrictEqual(yield* shown(tab), turn("Hello again"))
      yield* second.stop
    }).pipe(Effect.scoped, Effect.provide(Browser.layer)))

  it.live("the first paint is the snapshot: the stream starts after it, the header agrees with Stop", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const context = yield* Browser.context
      const writer = yield* openTab(context, web.url)
      for (const question of ["One", "Two", "Three"]) {
        const from = (yield* env.lastSequence) + 1
        yield* send(writer, question)
        yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded", { from }))
      }
      const last = yield* env.lastSequence
      const page = yield* Browser.use("new tab", () => context.newPage())
      const streams: Array<string> = []
      page.on("request", (request) => {
        if (request.url().includes("/events")) streams.push(request.url())
      })
      yield* Browser.use("open", () => page.goto(web.url))
      yield* Browser.use("live", () => page.locator("#connection[data-state=live]").waitFor())
      assert.strictEqual(streams.length, 1)
      assert.match(streams[0]!, new RegExp(`after=${last}$`))
      assert.strictEqual(Number(yield* Browser.use("sequence", () => page.locator("body").getAttribute("data-last-sequence"))), last)
      assert.deepStrictEqual(yield* shown(page), [...turn("One"), ...turn("Two"), ...turn("Three")])
      assert.strictEqual(yield* Browser.use("state", () => page.locator("#agent-state").getAttribute("data-state")), "idle")
      assert.isTrue(yield* Browser.use("stop disabled", () => page.locator("#stop").isDisabled()))
      assert.strictEqual(yield* Browser.use("model", () => page.locator("#model").innerText()), "scripted")
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis")), Effect.provide(Browser.layer)))

  it.live("a malformed or unknown approval POST is refused to its sender and reaches no tab", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const context = yield* Browser.context
      const tabs = [yield* openTab(context, web.url), yield* openTab(context, web.url)]
      const before = yield* env.lastSequence
      for (const body of [JSON.stringify({ callId: "call_nope", approved: true }), "{\"callId\":", JSON.stringify({ approved: 1 })]) {
        const response = yield* Effect.promise(() =>
          fetch(`${web.url}approvals`, { method: "POST", headers: { "content-type": "application/json" }, body }))
        assert.include([400, 404], response.status)
      }
      yield* send(tabs[0]!, "After the bad requests")
      yield* runsEnded(env, 1)
      for (const tab of tabs) {
        yield* caughtUp(tab, env)
        assert.strictEqual(yield* Browser.use("notices", () => tab.locator(".notice").count()), 0)
      }
      assert.isTrue((yield* env.lastSequence) > before)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis")), Effect.provide(Browser.layer)))

  it.live("Markdown and code are rendered and sanitised; Escape stops; the textarea grows", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      const heightOf = () => Browser.use("height", () => page.evaluate<number>(`document.getElementById("input").getBoundingClientRect().height`))
      const oneLine = yield* heightOf()
      yield* Browser.use("fill lines", async () => {
        await page.locator("#input").fill("1\n2\n3\n4")
        await page.locator("#input").dispatchEvent("input")
      })
      assert.isAbove(yield* heightOf(), oneLine * 1.8)

      yield* send(page, "**bold** and `code` <img src=x onerror=\"window.pwned=1\">")
      yield* runsEnded(env, 1)
      yield* caughtUp(page, env)
      const answer = page.locator(`#transcript .item[data-kind="model"] .text`).last()
      assert.strictEqual(yield* Browser.use("bold", () => answer.locator("strong").innerText()), "bold")
      assert.strictEqual(yield* Browser.use("code", () => answer.locator("code").innerText()), "code")
      assert.strictEqual(yield* Browser.use("onerror", () => page.locator("[onerror]").count()), 0)
      assert.isUndefined(yield* Browser.use("pwned", () => page.evaluate("window.pwned")))
      assert.isBelow(yield* heightOf(), oneLine * 1.3)

      yield* send(page, "Explain how stopping works")
      yield* Browser.until("the answer streams", async () =>
        (await page.locator(`#transcript .item[data-kind="model"][data-status="in_progress"] .text`).innerText().catch(() => "")).length > 40
          ? true
          : undefined)
      yield* Browser.use("Escape", () => page.locator("#input").press("Escape"))
      const ended = yield* runsEnded(env, 2)
      assert.strictEqual(ended.payload._tag === "RunEnded" && ended.payload.outcome, "interrupted")
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("20 millis")), Effect.provide(Browser.layer)))

  it.live("on a phone the layout holds: one-line title, no sideways scrolling, approval buttons in reach; a screenshot", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const context = yield* Browser.makeContext({ width: 390, height: 844 })
      const page = yield* openTab(context, web.url)
      yield* send(page, "Write a note: buy milk, eggs and a very long list of things for the weekend trip")
      yield* Browser.use("the approval is asked", () => page.locator(`.call[data-call-status="awaiting_approval"]`).waitFor())
      const title = yield* Browser.use("title", () =>
        page.evaluate<{ height: number; line: number }>(`(() => {
          const el = document.getElementById("title")
          const style = getComputedStyle(el)
          return { height: el.getBoundingClientRect().height, line: parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5 }
        })()`))
      assert.isBelow(title.height, title.line * 1.5)
      const overflow = yield* Browser.use("overflow", () => page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth"))
      assert.isAtMost(overflow, 0)
      const approve = yield* Browser.use("approve box", () => page.locator(".call .approve").boundingBox())
      assert.isAtMost(approve!.x + approve!.width, 390)
      Fs.mkdirSync(screenshots, { recursive: true })
      yield* Browser.use("screenshot", () => page.screenshot({ path: Path.join(screenshots, "web-chat-phone.png") }))
      yield* Browser.use("approve", () => page.locator(".call .approve").click())
      yield* runsEnded(env, 1)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis")), Effect.provide(Browser.layer)))

  it.live("an OpenAI client pointed at the web chat talks to the conversation the browser shows", () =>
    Effect.gen(function*() {
      const { env, web } = yield* Chat.start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      const client = new OpenAI({ apiKey: "unused", baseURL: `${web.url}v1`, maxRetries: 0 })
      const response = yield* Effect.promise(() => client.responses.create({ model: "any", input: "Hello from the SDK" }))
      assert.strictEqual(response.output_text, Script.answerFor("Hello from the SDK"))
      yield* caughtUp(page, env)
      assert.deepStrictEqual(yield* shown(page), turn("Hello from the SDK"))
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("1 millis")), Effect.provide(Browser.layer)))
})
