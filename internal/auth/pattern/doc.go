// Package pattern is the one pattern grammar berth uses wherever a rule names
// repositories or tags: robot account scopes, immutable tags, retention,
// replication. docs/patterns.md describes it for users; this comment is the
// same rule for readers of the code.
//
// A pattern is split at '/' into segments and matched against a subject (a
// repository name such as "team/app" or a tag such as "v1.2.3") split the
// same way:
//
//   - "?" matches exactly one character other than '/';
//   - "*" matches any run of characters, possibly empty, other than '/', so it
//     never leaves its segment;
//   - "**" must be a whole segment and matches zero or more whole segments:
//     "team/**" matches "team", "team/app" and "team/a/b"; "**/app" matches
//     "app" and "x/y/app"; "a/**/b" matches "a/b" and "a/x/b"; "**" alone
//     matches everything;
//   - every other character matches itself. Matching is case-sensitive.
//
// To match strictly below a prefix, write "team/*/**" (at least one segment
// after "team").
//
// [Compile] refuses patterns that could only be mistakes: the empty pattern,
// empty segments (a leading, trailing or doubled '/'), "**" mixed with other
// characters in a segment ("a**", "***"), invalid UTF-8, white space and
// control characters, and the reserved characters "[ ] { } \ !" (character
// classes, alternatives, escapes and negation are not supported; reserving
// them keeps the door open without changing what existing patterns mean).
//
// Characters are Unicode code points; an invalid UTF-8 byte in a subject
// counts as one character. Matching takes time proportional to the product
// of the pattern and subject lengths at worst, never exponential, and never
// panics, whatever the subject.
package pattern
