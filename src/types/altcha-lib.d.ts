// altcha-lib publishes its types through package.json "exports", which TypeScript's "node"
// module resolution (this project's) does not read; at run time Node loads its CommonJS build.
declare module 'altcha-lib' {
  export * from 'altcha-lib/dist/esm/v2/index';
}
declare module 'altcha-lib/algorithms/pbkdf2' {
  export * from 'altcha-lib/dist/esm/v2/algorithms/pbkdf2';
}
