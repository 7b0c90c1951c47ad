// The official MCP conformance suite's client scenarios, run under Node 24 against a client written only on
// @chorus/mcp's public API (conformance/chorus-client.ts). The target is every scenario the SDK itself passes
// (conformance/sdk-baseline.ts, `pnpm tsx test/mcp/conformance/run.ts sdk`): all but the cross-app-access
// extension, which SDK 1.32.2 does not implement.
import { describe, expect, it } from "vitest"
import { programs, runScenarios } from "./conformance/run.js"

const notInSdk = ["auth/cross-app-access-complete-flow"]

describe("MCP conformance suite (client scenarios)", () => {
  it("passes every scenario the SDK passes", { timeout: 600_000 }, async () => {
    const outcomes = await runScenarios(programs.chorus)
    const failed = outcomes.filter((outcome) => !outcome.passed)
    for (const outcome of failed) {
      if (!notInSdk.includes(outcome.scenario)) process.stderr.write(`${outcome.scenario}:\n${outcome.output}\n`)
    }
    expect(outcomes.length).toBeGreaterThanOrEqual(26)
    expect(failed.map((outcome) => outcome.scenario)).toEqual(notInSdk)
  })
})
