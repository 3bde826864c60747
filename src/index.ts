export * from './policy/trusted-image-policy';
