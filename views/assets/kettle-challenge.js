// The donate form's proof-of-work check (ALTCHA), only on pages that ask for it. The widget and its
// worker come from our own origin (/assets/altcha), so the Content-Security-Policy stays 'self'.
import '/assets/altcha/altcha.min.js';

var pbkdf2Worker = function () { return new Worker('/assets/altcha/workers/pbkdf2.js'); };
['PBKDF2/SHA-256', 'PBKDF2/SHA-384', 'PBKDF2/SHA-512'].forEach(function (name) {
  globalThis.$altcha.algorithms.set(name, pbkdf2Worker);
});
