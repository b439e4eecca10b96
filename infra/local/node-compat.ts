/**
 * Node 20 support for the local entry points (imported first by `npm start`, the CLIs and the test
 * setup; nowhere else). The project supports Node 20 and 22+; the AWS SDK warns on 20 at every start.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `Promise.withResolvers` (ES2024, Node 22) for Node 20: aws-local-stepfunctions calls it for every
 * Task state. Installed only when missing, and as the specification defines it: a non-enumerable,
 * writable, configurable method (not a constructor, `length` 0) that works on `this` (so Promise
 * subclasses get their own kind of promise) and throws a TypeError when `this` is not a promise
 * constructor (NewPromiseCapability).
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  const { withResolvers } = {
    // Method syntax: like the built-in, the function has no `prototype` and is not a constructor.
    withResolvers<T>(this: unknown): Resolvers<T> {
      if (typeof this !== 'function') throw new TypeError('Promise.withResolvers called on a non-constructor');
      const C = this as PromiseConstructor;
      let resolve: Resolvers<T>['resolve'] | undefined;
      let reject: Resolvers<T>['reject'] | undefined;
      const promise = new C<T>((res, rej) => {
        if (resolve !== undefined || reject !== undefined) throw new TypeError('Promise executor has already been invoked');
        resolve = res;
        reject = rej;
      });
      if (typeof resolve !== 'function' || typeof reject !== 'function') {
        throw new TypeError('Promise resolve or reject function is not callable');
      }
      return { promise, resolve, reject };
    },
  };
  Object.defineProperty(Promise, 'withResolvers', { value: withResolvers, writable: true, enumerable: false, configurable: true });
}
