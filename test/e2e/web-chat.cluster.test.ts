/**
 * The web chat served by three nodes of one cluster at once (examples/web-chat/cluster.ts, three processes on
 * 127.0.0.1, PostgreSQL for the cluster's storage and the journal), in headless Chromium: tab A on node 1, tab B
 * on node 2. The agent is placed once by the cluster, on whichever node; its model is a local server speaking the
 * OpenAI Responses wire protocol, reached by every node.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as Playwright from "playwright-core"
import * as Postgres from "../support/postgres.js"
import { freePort } from "../cluster/support/processes.js"
import * as Browser from "./support/browser.js"
import * as Model from "./support/responsesModel.js"
import * as Chat from "./support/webChat.js"

// Part of the default suite; `CHORUS_CLUSTER_PROCESSES=0` skips it (three runner processes and a PostgreSQL).
const enabled = process.env.CHORUS_CLUSTER_PROCESSES !== "0"
const root = fileURLToPath(new URL("../../", import.meta.url))
const nodeScript = fileURLToPath(new URL("../../examples/web-chat/cluster.ts", import.meta.url))

interface Node {
  readonly url: string
  readonly child: ChildProcess
  readonly output: Array<string>
}

/** Starts a node of the clustered web chat; resolves with its page's address once it prints it. */
const startNode = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const [port, clusterPort] = [await freePort(), await freePort()]
      const child = spawn(process.execPath, ["--import", "tsx", nodeScript], {
        cwd: root,
        env: { ...process.env, ...env, PORT: String(port), CLUSTER_PORT: String(clusterPort) },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const output: Array<string> = []
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node not ready:\n${output.join("")}`)), 90_000)
        child.stdout!.on("data", (data: Buffer) => {
          output.push(data.toString())
          const match = /web-chat: open (\S+)/.exec(output.join(""))
          if (match) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
        child.stderr!.on("data", (data: Buffer) => output.push(data.toString()))
        child.once("exit", (code) => {
          clearTimeout(timer)
          reject(new Error(`node exited with ${code}:\n${output.join("")}`))
        })
      })
      return { url, child, output } satisfies Node
    }),
    (node) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve()
          node.child.once("exit", () => resolve())
          node.child.kill("SIGKILL")
        })
      )
  ).pipe(Effect.orDie)

const postgres = Effect.acquireRelease(Effect.promise(() => Postgres.start()), (server) => Effect.sync(() => server.stop()))

const openTab = (context: Playwright.BrowserContext, url: string) =>
  Effect.gen(function*() {
    const page = yield* Browser.open(context, url)
    yield* Browser.use("connect", () => page.locator("#connection[data-state=live]").waitFor({ state: "attached", timeout: 30_000 }))
    return page
  })

const send = (page: Playwright.Page, text: string) =>
  Browser.use(`send "${text}"`, async () => {
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
  })

interface Shown {
  readonly kind: string
  readonly status: string | null
  readonly text: string
}

const shownScript = `[...document.querySelectorAll("#transcript .item")].map((el) => ({
  kind: el.dataset.kind,
  status: el.dataset.status ?? null,
  text: el.querySelector(".text, .args")?.textContent ?? ""
}))`
/** The transcript a tab shows: kind, status and text of each item. */
const shown = (page: Playwright.Page) => Browser.use("read the transcript", () => page.evaluate<Array<Shown>>(shownScript))

const last = <A>(items: ReadonlyArray<A>) => items[items.length - 1]

describe.runIf(enabled)("the web chat served by three cluster nodes", () => {
  it.live("tabs on two nodes share one conversation: a message streams in both, B approves A's call (run once), B stops A's run", () =>
    Effect.gen(function*() {
      const server = yield* postgres
      const model = yield* Model.make({ wordDelay: 60, longWords: 400 })
      const sandbox = yield* Chat.tempDirectory
      const env = {
        DATABASE_URL: server.url,
        OPENAI_API_KEY: "sk-test",
        OPENAI_BASE_URL: model.baseURL,
        OPENAI_MODEL: "gpt-test",
        WEB_CHAT_NOTES: sandbox,
        WEB_CHAT_CONVERSATION: "cluster-e2e"
      }
      const nodes = yield* Effect.all([startNode(env), startNode(env), startNode(env)], { concurrency: "unbounded" })
      const context = yield* Browser.context
      const a = yield* openTab(context, nodes[0]!.url)
      const b = yield* openTab(context, nodes[1]!.url)
      const tabs = [a, b]

      // A message from A streams in both tabs.
      yield* send(a, "Say hello")
      for (const tab of tabs) {
        const items = yield* Browser.until("the answer is shown", async () => {
          const items = await tab.locator("#transcript .item").count()
          return items >= 2 ? items : undefined
        }, { timeout: "60 seconds" })
        assert.isAtLeast(items, 2)
      }
      for (const tab of tabs) {
        yield* Browser.until("the answer is complete", async () => {
          const model = await tab.locator(`.item[data-kind="model"][data-status="completed"]`).count()
          return model === 1 ? true : undefined
        }, { timeout: "30 seconds" })
      }
      const first = yield* shown(a)
      assert.deepStrictEqual(first.map((item) => [item.kind, item.status, item.text]), [
        ["user", "completed", "Say hello"],
        ["model", "completed", Model.shortAnswer]
      ])
      assert.deepStrictEqual(yield* shown(b), first)
      // One agent in the cluster: the message reached the model once, not once per node.
      assert.strictEqual(model.requests.length, 1)

      // An approval asked shows in both; B answers it; the tool runs once.
      yield* send(a, "Please write a note")
      for (const tab of tabs) {
        yield* Browser.use("the approval is asked", () =>
          tab.locator(`.call[data-call-status="awaiting_approval"] .approve`).waitFor({ timeout: 30_000 }))
      }
      const target = Path.join(sandbox, Model.note.filename)
      assert.isFalse(Fs.existsSync(target), "nothing is written before the answer")
      yield* Browser.use("B approves", () => b.locator(".call .approve").click())
      for (const tab of tabs) {
        yield* Browser.use("the call completes", () => tab.locator(`.call[data-call-status="completed"]`).waitFor({ timeout: 30_000 }))
        yield* Browser.until("the answer after the call", async () =>
          (await tab.locator(`.item[data-kind="model"][data-status="completed"]`).count()) === 2 ? true : undefined, { timeout: "30 seconds" })
      }
      assert.strictEqual(Fs.readFileSync(target, "utf8"), Model.note.content)
      const outputs = model.requests.filter((request) => request.body.input?.at(-1)?.type === "function_call_output")
      assert.strictEqual(outputs.length, 1, "one call output reached the model")
      assert.strictEqual(last(yield* shown(b))?.text, Model.noteDone)
      assert.deepStrictEqual(yield* shown(a), yield* shown(b))

      // A long answer started in A; both tabs watch it stream; B stops it.
      yield* send(a, "Tell me something long")
      for (const tab of tabs) {
        yield* Browser.until("the long answer streams", async () => {
          const text = await tab.locator(`.item[data-kind="model"][data-status="in_progress"] .text`).textContent().catch(() => null)
          return text !== null && text.includes("word3 ") ? text : undefined
        }, { timeout: "30 seconds" })
      }
      yield* Browser.until("Stop is enabled in B", async () => (await b.locator("#stop").isEnabled()) ? true : undefined)
      yield* Browser.use("B stops", () => b.locator("#stop").click())
      for (const tab of tabs) {
        yield* Browser.use("the answer is cut", () =>
          tab.locator(`.item[data-kind="model"][data-status="incomplete"]`).waitFor({ timeout: 30_000 }))
        yield* Browser.until("nothing to stop", async () => (await tab.locator("#stop").isDisabled()) ? true : undefined)
      }
      const long = model.requests.filter((request) => /long/.test(JSON.stringify(request.body.input?.at(-1) ?? {})))
      assert.strictEqual(long.length, 1)
      assert.isTrue(long[0]!.aborted, "the model's request was aborted")
      const cut = last(yield* shown(a))!
      assert.match(cut.text, /^word0 word1 word2 word3 /)
      assert.notInclude(cut.text, "word399")
      assert.deepStrictEqual(yield* shown(b), yield* shown(a))
    }).pipe(Effect.scoped, Effect.provide(Browser.layer)), 240_000)
})
