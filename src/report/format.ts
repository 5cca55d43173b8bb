/**
 * Text for the report: HTML escaping, SVG coordinates, and numbers, percentages and durations as
 * people read them. Pure functions of their arguments, so the page stays byte-identical run to run.
 */

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** An SVG coordinate to 0.1 px: finer is invisible and only makes the file bigger. */
export function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** A plain number for people: integers whole, others to four significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(1);
  if (Math.abs(v) < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** An integer with thousands separators ("6,000"), independent of the machine's locale. */
export function formatCount(n: number): string {
  if (!Number.isInteger(n)) return formatNumber(n);
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${digits}` : digits;
}

/** A fraction in [0, 1] as a percentage ("2.83%"); "—" when it is null or not finite. */
export function formatPercent(fraction: number | null, digits = 2): string {
  if (fraction === null || !Number.isFinite(fraction)) return "—";
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A duration in seconds with the unit that keeps it short ("12.5 ms", "3 min 6 s"). */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 0) return `-${formatSeconds(-s)}`;
  if (s === 0) return "0 s";
  if (s < 1e-3) return `${Number((s * 1e6).toPrecision(3))} µs`;
  if (s < 1) return `${Number((s * 1e3).toPrecision(3))} ms`;
  if (s < 60) return `${Number(s.toPrecision(3))} s`;
  // Rounded to whole seconds (minutes) first, so 119.7 s is "2 min 0 s", never "1 min 60 s".
  if (s < 3600 - 0.5) {
    const whole = Math.round(s);
    return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  }
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A rough width in px of sans-serif text, enough to lay out labels without measuring. */
export function approxTextWidth(text: string, size: number): number {
  let em = 0;
  for (const ch of text) {
    em += /[A-Z@%&MW]/.test(ch) ? 0.72 : /[ilj.,:;!|()' ]/.test(ch) ? 0.3 : 0.56;
  }
  return em * size;
}

/**
 * NMI as every output shows it: a score in [0, 1] with three decimals ("0.865"), as the
 * literature writes it (the other metrics are error rates and precisions, shown in percent).
 */
export function formatNmi(nmi: number | null): string {
  return nmi === null || !Number.isFinite(nmi) ? "—" : nmi.toFixed(3);
}
