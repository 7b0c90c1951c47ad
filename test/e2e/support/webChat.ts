import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Environment } from "@chorus/core"
import { Effect, Layer } from "effect"
import type { Duration } from "effect"
import * as Script from "../../../examples/web-chat/Script.js"
import * as WebChat from "../../../examples/web-chat/WebChat.js"

/** The environment service, as the tests use it. */
export type Env = Environment.Service

/** A temporary directory, removed with the scope. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-web-chat-"))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

/** Starts the web chat on a free port, on the example's scripted model; it stops with the scope. */
export const start = Effect.gen(function*() {
  const sandbox = yield* tempDirectory
  const web = yield* WebChat.make({ sandbox })
  const env = yield* Environment.Environment
  return { web, sandbox, env }
})

/** What `start` needs: an in-memory environment, the example's scripted model with this latency, Node. */
export const layer = (latency: Duration.DurationInput) =>
  Layer.mergeAll(Environment.layerMemory(), Script.layer({ latency }), NodeContext.layer)
