import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { notFound } from '#common/errors.js';
import { ARCHIVE_SUFFIX, BackupDestination, type StoredArchive } from './destination.port.js';

export interface S3DestinationOptions {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  partSizeBytes: number;
}

/** An S3-compatible bucket; archives go up as multipart uploads, so their size is unbounded by memory. */
export class S3Destination extends BackupDestination {
  private readonly client: S3Client;

  constructor(private readonly options: S3DestinationOptions) {
    super();
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.accessKeyId && options.secretAccessKey ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } : undefined,
    });
  }

  get description() {
    return `s3://${this.options.bucket}/${this.options.prefix}`;
  }

  private key(name: string) {
    return `${this.options.prefix}${name}`;
  }

  async write(name: string, body: Readable): Promise<number> {
    let size = 0;
    body.on('data', (chunk: Buffer) => (size += chunk.length));
    // An aborted multipart upload leaves no object: the name appears only once complete.
    await new Upload({ client: this.client, params: { Bucket: this.options.bucket, Key: this.key(name), Body: body }, partSize: this.options.partSizeBytes, queueSize: 2 }).done();
    return size;
  }

  async read(name: string): Promise<Readable> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }));
      return answer.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') throw notFound(`archive ${name} is not in ${this.description}`);
      throw error;
    }
  }

  async list(): Promise<StoredArchive[]> {
    const found: StoredArchive[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.options.prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const name = object.Key!.slice(this.options.prefix.length);
        if (name.endsWith(ARCHIVE_SUFFIX) && !name.includes('/')) found.push({ name, size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(name) }));
  }
}
