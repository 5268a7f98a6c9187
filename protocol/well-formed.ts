/**
 * Well-formed text: strings without lone UTF-16 surrogates.
 *
 * A JavaScript string may hold a lone surrogate (half of an emoji cut by a naive
 * `slice`), but UTF-8 cannot: JSON carries it as `\udXXX` while SQLite stores it as
 * replacement characters, so the same message came back different from the log and
 * from a read model. Every text a user sends is therefore normalized once, before it is
 * decided on, the way the web platform turns strings into USVStrings: each lone
 * surrogate becomes U+FFFD. Ids are not normalized but refused: silently changing an
 * identifier would make two different ones equal.
 */

type WellFormedString = string & { isWellFormed?: () => boolean; toWellFormed?: () => string };

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with every lone surrogate replaced by U+FFFD (String.prototype.toWellFormed). */
export function toWellFormed(s: string): string {
  const native = (s as WellFormedString).toWellFormed;
  return native ? native.call(s) : s.replace(LONE_SURROGATE, '\ufffd');
}

/** True when `s` holds no lone surrogate. */
export function isWellFormed(s: string): boolean {
  const native = (s as WellFormedString).isWellFormed;
  if (native) return native.call(s);
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(s);
}
