// The interval of a time series (capture_statistics, plot_capture), declared once: seconds per
// bucket or "auto". A number sent as a string ("1") is taken too: some clients send every value
// of a parameter that is "a number or a word" as a string, and a refusal there costs a call.
import * as z from 'zod';

const MAX_INTERVAL = 86_400;

/** Seconds per bucket from `min` to a day, or "auto"; the error says both forms. */
export function intervalParam(min: number): z.ZodOptional<z.ZodType<number | 'auto', number | string>> {
  const seconds = z.number().min(min).max(MAX_INTERVAL);
  return z
    .union(
      [
        seconds,
        z.literal('auto'),
        z
          .string()
          .regex(/^\s*\d+(\.\d+)?\s*$/)
          .transform(Number)
          .pipe(seconds),
      ],
      {
        error: `give interval as seconds per bucket, a number from ${min} to ${MAX_INTERVAL} (e.g. 1), or "auto" for about 100 buckets.`,
      },
    )
    .optional()
    .meta({ listed: { anyOf: [{ type: 'number' }, { type: 'string' }] } });
}
