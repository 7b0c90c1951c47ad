/**
 * OpenTelemetry export, in one line: Chorus's spans (the agent's
 * `invoke_agent` / `chat` / `execute_tool` spans and each provider's client
 * span, with OpenTelemetry GenAI attributes), its logs and the GenAI client
 * metrics (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`)
 * sent over OTLP/HTTP (JSON) by `@effect/opentelemetry` — no OpenTelemetry
 * SDK needed.
 *
 * @example
 * import { Effect } from "effect"
 * import { Telemetry } from "@chorus/providers"
 *
 * // Any OTLP/HTTP collector: Jaeger, Grafana Tempo, Honeycomb, the OpenTelemetry Collector…
 * const program = Effect.void.pipe(Effect.provide(Telemetry.layer({ baseUrl: "http://127.0.0.1:4318" })))
 *
 * @since 0.1.0
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Config, Effect, Layer, Option } from "effect"
import type { ConfigError, Duration } from "effect"

/** Where and how often to export. */
export interface Options {
  /** The collector's OTLP/HTTP root; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended. */
  readonly baseUrl: string
  /** `service.name` of the resource. Default `"chorus"`. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** Extra resource attributes. */
  readonly attributes?: Record<string, unknown> | undefined
  /** Headers sent with every export (an API key of a hosted collector). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** How often spans, metrics and logs are sent. Default: 5 s for spans and logs, 10 s for metrics. */
  readonly exportInterval?: Duration.DurationInput | undefined
}

/** Exports spans, metrics and logs to an OTLP/HTTP collector while the layer is in use; flushed when it closes. */
export const layer = (options: Options): Layer.Layer<never> =>
  Otlp.layerJson({
    baseUrl: options.baseUrl,
    resource: {
      serviceName: options.serviceName ?? "chorus",
      ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion }),
      ...(options.attributes === undefined ? {} : { attributes: options.attributes })
    },
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.exportInterval === undefined ? {} : {
      tracerExportInterval: options.exportInterval,
      metricsExportInterval: options.exportInterval,
      loggerExportInterval: options.exportInterval
    })
  }).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * The export configured from the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's
 * root) and `OTEL_SERVICE_NAME`. Without an endpoint nothing is exported.
 */
export const layerConfig = (options: Omit<Options, "baseUrl"> = {}): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      Config.all([
        Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
        Config.option(Config.string("OTEL_SERVICE_NAME"))
      ]),
      ([endpoint, serviceName]) =>
        Option.match(endpoint, {
          onNone: () => Layer.empty,
          onSome: (baseUrl) =>
            layer({ ...options, baseUrl, serviceName: options.serviceName ?? Option.getOrUndefined(serviceName) })
        })
    )
  )
