import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Environment, Journal } from "@chorus/core"
import { Context, Effect, Exit, Layer, Scope } from "effect"
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

/**
 * Starts the web chat on a JSONL journal, at `port` (0 picks a free one), in a scope of its own: `stop` closes the
 * server, the participants and the journal, as a process exit would. Starting again on the same journal resumes.
 */
export const startOnJournal = (options: {
  readonly journal: string
  readonly sandbox: string
  readonly port?: number
  readonly latency: Duration.DurationInput
}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Layer.mergeAll(
        Environment.layer().pipe(Layer.provide(Journal.layerFile(options.journal)), Layer.provide(NodeContext.layer)),
        Script.layer({ latency: options.latency }),
        NodeContext.layer
      ),
      scope
    )
    const web = yield* WebChat.make({ sandbox: options.sandbox, port: options.port }).pipe(
      Effect.provide(context),
      Scope.extend(scope),
      Effect.orDie
    )
    return { web, env: Context.get(context, Environment.Environment), stop: Scope.close(scope, Exit.void) }
  }).pipe(Effect.orDie)
