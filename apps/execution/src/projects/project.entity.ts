import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** A user's named workspace in a script group, with its own data directory. */
@Entity({ schema: 'execution', name: 'projects' })
export class ProjectRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  @Column({ name: 'group_id', type: 'text' })
  groupId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'is_default', type: 'boolean', default: false })
  isDefault: boolean;

  /** Folder name under DATA_DIR/projects/<user>/<group>/: "default" for the default project (where runs wrote before projects existed), else the id. */
  @Column({ name: 'dir_name', type: 'text' })
  dirName: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** The project a user's runs in a group use when they name none. */
@Entity({ schema: 'execution', name: 'active_projects' })
export class ActiveProjectRecord {
  @PrimaryColumn({ name: 'user_id', type: 'text' })
  userId: string;

  @PrimaryColumn({ name: 'group_id', type: 'text' })
  groupId: string;

  @Column({ name: 'project_id', type: 'uuid' })
  projectId: string;
}
